package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// A step that needs two approvals waits; the starter's own approval is refused, an answer file
// dropped in the run directory counts for nothing; a second OS user, in another process, through
// the run's socket, lets it go on; the report names both.
func TestTwoPersonApproval(t *testing.T) {
	testbed.Require(t, "root (to make a second OS user)", func() error {
		if os.Getuid() != 0 {
			return os.ErrPermission
		}
		return nil
	})
	w := newWorld(t)
	group := testbed.UniqueName(t, "dba")
	if out, err := exec.Command("groupadd", group).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	approver := testbed.OSUser(t, "appr", group)
	// a shared, group-owned setgid state directory
	shared := filepath.Join(testbed.TempDir(t), "shared")
	if err := os.Mkdir(shared, 0o2770); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chgrp", group, shared).CombinedOutput(); err != nil {
		t.Fatalf("chgrp: %v %s", err, out)
	}
	os.Chmod(shared, 0o2770|os.ModeSetgid)
	w.state = shared
	w.env = append(w.env, "CAIRN_STATE_DIR="+shared)

	rb := filepath.Join(testbed.TempDir(t), "approve.yaml")
	os.WriteFile(rb, []byte(`schema: 1
name: approve
title: A step two people must approve
steps:
  - id: guarded
    kind: sql
    title: The guarded change
    approvals: 2
    destructive: true
    with:
      check: SELECT to_regclass('guarded') IS NOT NULL
      statements: ["CREATE TABLE guarded (id int)"]
`), 0o644)
	_, errOut, code := w.cairn(nil, "run", "approve", "--file", rb, "--yes", "--no-tui", "--detach")
	if code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	run := w.onlyRun()
	w.waitFor(run, "the approval question", func(r []events.Event) bool { return hasQuestion(r, events.AskApproval) })

	// the starter cannot approve
	_, errOut, code = w.cairn(nil, "approve", run.ID)
	if code == 0 || !strings.Contains(errOut, "cannot approve it") {
		t.Fatalf("self-approval accepted: %d %s", code, errOut)
	}
	// nor by dropping an answer in the run directory: no file there is read as an answer
	recs, _ := journal.ReadAll(run)
	q := openQuestion(recs)
	os.MkdirAll(run.Path("answers"), 0o770)
	forged, _ := json.Marshal(events.Answer{QuestionID: q.ID, Choice: "approve", By: &events.Actor{User: approver.Name, UID: approver.UID}})
	if err := os.WriteFile(run.Path("answers", q.ID+"--"+approver.Name+".json"), forged, 0o660); err != nil {
		t.Fatal(err)
	}

	// a second engineer approves from their own account and process
	cmd := exec.Command("runuser", "-u", approver.Name, "--", w.bin, "approve", run.ID)
	cmd.Env = []string{"CAIRN_STATE_DIR=" + shared, "HOME=" + approver.Home, "PATH=/usr/bin:/bin"}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("approve as %s: %v\n%s", approver.Name, err, out)
	}
	// the runner counted this approval as the first: the dropped file counted for nothing
	if !strings.Contains(string(out), "approved by "+approver.Name+"@") || !strings.Contains(string(out), "(1 of 1)") {
		t.Fatalf("approve said: %s", out)
	}
	recs = w.waitFor(run, "run finished", func(r []events.Event) bool { return finished(r) != "" })
	if s := finished(recs); s != "succeeded" {
		t.Fatalf("run ended %s", s)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'guarded'"); n != 1 {
		t.Fatal("the approved step did not run")
	}
	rep, _, _ := w.cairn(nil, "report", run.ID)
	if !strings.Contains(rep, "by root") || !strings.Contains(rep, "approved by "+approver.Name) {
		t.Fatalf("report does not name both:\n%s", rep)
	}
}

func hasQuestion(recs []events.Event, kind events.QuestionKind) bool {
	for _, e := range recs {
		if e.Type == events.QuestionAsked && e.Question.Kind == kind {
			return true
		}
	}
	return false
}

func openQuestion(recs []events.Event) *events.Question {
	st := events.NewRunState()
	for _, e := range recs {
		st.Apply(e)
	}
	return st.Open
}

func hasNote(recs []events.Event, frag string) bool {
	for _, e := range recs {
		if e.Type == events.Note && strings.Contains(e.Note, frag) {
			return true
		}
	}
	return false
}
