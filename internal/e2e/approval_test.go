package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// A step that needs two approvals waits; the starter's own approval is refused; a second OS user,
// in another process, through the shared state directory, lets it go on; the report names both.
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
	// nor by writing an answer behind the CLI's back: the runner refuses it too
	recs, _ := journal.ReadAll(run)
	q := openQuestion(recs)
	me := &events.Actor{User: "root", UID: 0, Host: "x", Via: "forged"}
	if err := journal.WriteAnswer(run, events.Answer{QuestionID: q.ID, Choice: "approve", By: me}); err != nil {
		t.Fatal(err)
	}
	w.waitFor(run, "the runner's refusal", func(r []events.Event) bool { return hasNote(r, "the engineer who started the run cannot approve it") })
	time.Sleep(300 * time.Millisecond)
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'guarded'"); n != 0 {
		t.Fatal("the step ran on the starter's own approval")
	}

	// a second engineer approves from their own account and process
	cmd := exec.Command("runuser", "-u", approver.Name, "--", w.bin, "approve", run.ID)
	cmd.Env = []string{"CAIRN_STATE_DIR=" + shared, "HOME=" + approver.Home, "PATH=/usr/bin:/bin"}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("approve as %s: %v\n%s", approver.Name, err, out)
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
