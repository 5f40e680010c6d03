package e2e

import (
	"bytes"
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

// execWorld is a world for runbooks of exec steps only (no PostgreSQL).
func execWorld(t *testing.T, state string) *world {
	w := &world{t: t, bin: testbed.CairnBinary(t), state: state}
	w.env = append(os.Environ(), "CAIRN_STATE_DIR="+state)
	t.Cleanup(func() { w.killRunners() })
	return w
}

// gatedRunbook leaves a mark, then passes only once marks/gate exists: a run of it fails until the
// gate is opened, and a resume then completes it.
func gatedRunbook(t *testing.T, marks string) string {
	rb := filepath.Join(marks, "gated.yaml")
	text := strings.ReplaceAll(`schema: 1
name: gated
title: A run that waits for its gate
steps:
  - id: mark
    kind: exec
    title: Leave a mark
    with:
      argv: [touch, MARKS/marked]
      check: {argv: [test, -e, MARKS/marked]}
  - id: gate
    kind: exec
    title: Pass once the gate is open
    with:
      argv: [sh, -c, "test -e MARKS/gate && touch MARKS/passed"]
      check: {argv: [test, -e, MARKS/passed]}
`, "MARKS", marks)
	if err := os.WriteFile(rb, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return rb
}

// A journal cut anywhere in its last record — the runner died writing run.finished — still
// reports, and `cairn resume` sets the fragment aside, says so in the journal, and completes the
// run without repeating the step that was done.
func TestResumeAfterATornJournal(t *testing.T) {
	marks := testbed.TempDir(t)
	w := execWorld(t, filepath.Join(testbed.TempDir(t), "state"))
	rb := gatedRunbook(t, marks)
	if _, errOut, code := w.cairn(nil, "run", "gated", "--file", rb, "--yes", "--no-tui"); code == 0 {
		t.Fatalf("the gated run passed before its gate opened: %s", errOut)
	}
	run := w.onlyRun()
	whole, _ := os.ReadFile(run.Path(journal.JournalFile))
	start := bytes.LastIndexByte(whole[:len(whole)-1], '\n') + 1
	if !strings.Contains(string(whole[start:]), `"run.finished"`) {
		t.Fatalf("the last record is not run.finished: %s", whole[start:])
	}
	cut := start + (len(whole)-start)/2
	os.WriteFile(run.Path(journal.JournalFile), whole[:cut], 0o640) // the file keeps its mode

	rep, errOut, code := w.cairn(nil, "report", run.ID)
	if code != 0 || !strings.Contains(rep, "Leave a mark") {
		t.Fatalf("report of a torn journal: %d %s\n%s", code, errOut, rep)
	}
	os.WriteFile(filepath.Join(marks, "gate"), nil, 0o644)
	os.Remove(filepath.Join(marks, "marked")) // a repeated mark step would make it again
	_, errOut, code = w.cairn(nil, "resume", run.ID, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("resume: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(marks, "marked")); err == nil {
		t.Fatal("the done step was applied again")
	}
	recs, err := journal.ReadAll(run)
	if err != nil {
		t.Fatal(err)
	}
	if s := finished(recs); s != events.Succeeded {
		t.Fatalf("resumed run ended %q", s)
	}
	aside, _ := filepath.Glob(run.Path(journal.JournalFile + ".torn-*"))
	if len(aside) != 1 {
		t.Fatalf("set aside: %v", aside)
	}
	if kept, _ := os.ReadFile(aside[0]); !bytes.Equal(kept, whole[start:cut]) {
		t.Fatalf("kept %q, want %q", kept, whole[start:cut])
	}
	noted := false
	for _, e := range recs {
		noted = noted || e.Type == events.Note && strings.Contains(e.Note, filepath.Base(aside[0]))
	}
	if !noted {
		t.Fatal("no note says the torn record was set aside")
	}
	b, _ := os.ReadFile(run.Path(journal.JournalFile))
	for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if !json.Valid([]byte(l)) {
			t.Fatalf("journal line %d is not a record: %q", i+1, l)
		}
	}
}

// sharedState makes a group-owned setgid state directory for group.
func sharedState(t *testing.T, group string) string {
	shared := filepath.Join(testbed.TempDir(t), "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chgrp", group, shared).CombinedOutput(); err != nil {
		t.Fatalf("chgrp: %v %s", err, out)
	}
	if err := os.Chmod(shared, 0o770|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return shared
}

// as runs a shell command line as u under umask, with a user's plain environment.
func as(t *testing.T, u *testbed.User, state, umask, script string) (string, int) {
	t.Helper()
	cmd := exec.Command("runuser", "-u", u.Name, "--", "sh", "-c", "umask "+umask+"; "+script)
	cmd.Env = []string{"CAIRN_STATE_DIR=" + state, "HOME=" + u.Home, "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	out, err := cmd.CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("as %s: %v", u.Name, err)
	}
	return string(out), code
}

func groupadd(t *testing.T) string {
	group := testbed.UniqueName(t, "dba")
	if out, err := exec.Command("groupadd", group).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", group).Run() })
	return group
}

func requireRoot(t *testing.T) {
	testbed.Require(t, "root (to make OS users in a group and one outside it)", func() error {
		if os.Getuid() != 0 {
			return os.ErrPermission
		}
		return nil
	})
}

// On a shared state directory, a member of the group cannot change root's run: under the modes
// the runner gives its files the changes themselves fail; where a run directory was left
// writable (as an older cairn made them), root's resume refuses, naming what was changed, and
// runs nothing. Someone outside the group cannot even read it. The run still completes for root.
func TestGroupMemberCannotChangeRootsRun(t *testing.T) {
	requireRoot(t)
	group := groupadd(t)
	alice := testbed.OSUser(t, "alice", group)
	bob := testbed.OSUser(t, "bob", group)
	eve := testbed.OSUser(t, "eve")
	shared := sharedState(t, group)
	w := execWorld(t, shared)
	marks := testbed.TempDir(t)
	rb := gatedRunbook(t, marks)
	victim := filepath.Join(marks, "victim")
	os.WriteFile(victim, []byte("root's own file\n"), 0o644)

	if _, errOut, code := w.cairn(nil, "run", "gated", "--file", rb, "--yes", "--no-tui"); code == 0 {
		t.Fatalf("the gated run passed before its gate opened: %s", errOut)
	}
	run := w.onlyRun()
	dir := run.Dir
	runbook, _ := os.ReadFile(run.Path(journal.RunbookFile))
	journalBefore, _ := os.ReadFile(run.Path(journal.JournalFile))
	evil := "printf '  - {id: own, kind: exec, title: Own, with: {argv: [sh, -c, \"id > " + marks + "/owned\"]}}\\n' >> " + dir + "/runbook.yaml"
	swapLock := "rm -f " + dir + "/lock && ln -s " + victim + " " + dir + "/lock"
	swapWork := "mv " + dir + "/work " + dir + "/work.x && mkdir " + dir + "/work && echo '{}' > " + dir + "/work/pg-x-rollback.json"

	// under the runner's modes, every change fails
	for what, script := range map[string]string{"edit runbook.yaml": evil, "swap lock for a link": swapLock, "swap work/": swapWork, "plant a file": "echo x > " + dir + "/work.y"} {
		if out, code := as(t, alice, shared, "022", script); code == 0 {
			t.Errorf("%s as a group member worked:\n%s", what, out)
		}
	}
	if out, code := as(t, eve, shared, "022", "cat "+dir+"/journal.jsonl"); code == 0 {
		t.Errorf("someone outside the group read the journal:\n%s", out)
	}
	// a member may read it (pairing), not drive it
	if out, code := as(t, bob, shared, "022", w.bin+" report "+run.ID); code != 0 || !strings.Contains(out, "Leave a mark") {
		t.Errorf("a group member cannot read the report: %d\n%s", code, out)
	}
	if out, code := as(t, bob, shared, "022", w.bin+" resume "+run.ID+" --yes --no-tui"); code == 0 || !strings.Contains(out, "belongs to uid 0 (root)") {
		t.Errorf("a group member's resume of root's run: %d\n%s", code, out)
	}

	refused := func(what, file, says string) {
		t.Helper()
		_, errOut, code := w.cairn(nil, "resume", run.ID, "--yes", "--no-tui")
		if code == 0 || !strings.Contains(errOut, filepath.Join(dir, file)) || !strings.Contains(errOut, says) || !strings.Contains(errOut, "nothing was run or changed") {
			t.Fatalf("%s: root's resume said (%d): %s", what, code, errOut)
		}
		if after, _ := os.ReadFile(run.Path(journal.JournalFile)); !bytes.Equal(after, journalBefore) {
			t.Fatalf("%s: the journal changed", what)
		}
		for _, m := range []string{"owned", "passed"} {
			if _, err := os.Stat(filepath.Join(marks, m)); err == nil {
				t.Fatalf("%s: a step ran (%s)", what, m)
			}
		}
		if b, _ := os.ReadFile(victim); string(b) != "root's own file\n" {
			t.Fatalf("%s: the lock's link was followed: %q", what, b)
		}
	}
	// runbook.yaml left group-writable: alice adds a step
	os.Chmod(run.Path(journal.RunbookFile), 0o660)
	if out, code := as(t, alice, shared, "022", evil); code != 0 {
		t.Fatalf("edit a group-writable runbook.yaml: %s", out)
	}
	refused("a group-writable runbook.yaml", "runbook.yaml", "is writable by others")
	os.Chmod(run.Path(journal.RunbookFile), 0o640)
	refused("an edited runbook.yaml", "runbook.yaml", "is not the runbook the run started with")
	os.WriteFile(run.Path(journal.RunbookFile), runbook, 0o640)

	// the run directory left group-writable: alice swaps the lock for a link to a root file
	os.Chmod(dir, 0o770|os.ModeSetgid)
	if out, code := as(t, alice, shared, "022", swapLock); code != 0 {
		t.Fatalf("swap the lock: %s", out)
	}
	refused("the lock swapped for a link", "lock", "is a symbolic link")
	os.Remove(run.Path(journal.LockFile))
	os.WriteFile(run.Path(journal.LockFile), nil, 0o640)

	// … and work/ for her own
	if out, code := as(t, alice, shared, "022", swapWork); code != 0 {
		t.Fatalf("swap work/: %s", out)
	}
	refused("work/ swapped", "work", "belongs to uid "+itoa(alice.UID)+" ("+alice.Name+")")
	os.RemoveAll(run.Path(journal.WorkDir))
	os.Rename(run.Path("work.x"), run.Path(journal.WorkDir))
	refused("a writable run directory", "", "is writable by others")
	os.Chmod(dir, 0o750|os.ModeSetgid)

	// put back as the runner left it, the run completes for its owner
	os.WriteFile(filepath.Join(marks, "gate"), nil, 0o644)
	if _, errOut, code := w.cairn(nil, "resume", run.ID, "--yes", "--no-tui"); code != 0 {
		t.Fatalf("root's resume of its own run: %d %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(marks, "owned")); err == nil {
		t.Fatal("alice's step ran")
	}
}

// Every member of the group can start runs, whoever made runs/ and under umask 022 or 077; each
// run is its runner's (2750, files 0640), and the others can read it.
func TestSharedModeWorksForEveryMemberUnderAnyUmask(t *testing.T) {
	requireRoot(t)
	group := groupadd(t)
	alice := testbed.OSUser(t, "alice", group)
	bob := testbed.OSUser(t, "bob", group)
	shared := sharedState(t, group)
	w := execWorld(t, shared)
	marks := testbed.TempDir(t)
	rb := filepath.Join(marks, "ok.yaml")
	os.WriteFile(rb, []byte("schema: 1\nname: ok\ntitle: Nothing much\nsteps:\n  - id: look\n    kind: exec\n    title: Look\n    with: {argv: [\"true\"], read_only: true}\n"), 0o644)

	starts := []struct {
		u     *testbed.User
		umask string
	}{{alice, "077"}, {bob, "022"}, {alice, "022"}, {bob, "077"}} // alice makes runs/ under 077
	for _, s := range starts {
		if out, code := as(t, s.u, shared, s.umask, w.bin+" run ok --file "+rb+" --yes --no-tui"); code != 0 {
			t.Fatalf("%s under umask %s: %d\n%s", s.u.Name, s.umask, code, out)
		}
	}
	st, _ := os.Stat(journal.RunsDir(shared))
	if got := st.Mode() & (os.ModePerm | os.ModeSetgid | os.ModeSticky); got != 0o770|os.ModeSetgid|os.ModeSticky {
		t.Fatalf("runs/ is %v", got)
	}
	ids, _ := journal.List(shared)
	if len(ids) != len(starts) {
		t.Fatalf("runs %v", ids)
	}
	for _, id := range ids {
		run, _ := journal.Open(shared, id)
		meta, _ := run.Meta()
		other := alice
		if meta.StartedBy == alice.Name {
			other = bob
		}
		if err := journal.Check(run, journal.ToRead); err != nil {
			t.Errorf("run %s by %s: %v", id, meta.StartedBy, err)
		}
		if out, code := as(t, other, shared, "077", w.bin+" report "+id); code != 0 || !strings.Contains(out, "Look") {
			t.Errorf("%s cannot read %s's run: %d\n%s", other.Name, meta.StartedBy, code, out)
		}
	}
}
