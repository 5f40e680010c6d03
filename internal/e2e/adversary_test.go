package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// The attacks of a group member on a shared run, tried by real OS users with the real binary:
// alice starts the run; bob and carol share the state directory's group; mallory does not. No
// PostgreSQL here: the guarded step is an exec step touching a marker file.

// pairing is a shared, group-owned setgid state directory and its people.
type pairing struct {
	t                          *testing.T
	bin, state, group          string
	gid                        int
	alice, bob, carol, mallory *testbed.User
}

func newPairing(t *testing.T) *pairing {
	t.Helper()
	testbed.Require(t, "root (to make OS users alice, bob, carol and mallory)", func() error {
		if os.Getuid() != 0 {
			return os.ErrPermission
		}
		return nil
	})
	p := &pairing{t: t, bin: testbed.CairnBinary(t), group: testbed.UniqueName(t, "pair")}
	if out, err := exec.Command("groupadd", p.group).CombinedOutput(); err != nil {
		t.Fatalf("groupadd: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("groupdel", p.group).Run() })
	g, err := user.LookupGroup(p.group)
	if err != nil {
		t.Fatal(err)
	}
	p.gid, _ = strconv.Atoi(g.Gid)
	p.alice = testbed.OSUser(t, "alice", p.group)
	p.bob = testbed.OSUser(t, "bob", p.group)
	p.carol = testbed.OSUser(t, "carol", p.group)
	p.mallory = testbed.OSUser(t, "mallory")
	p.state = filepath.Join(testbed.TempDir(t), "shared")
	if err := os.Mkdir(p.state, 0o770); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p.state, 0, p.gid); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p.state, 0o770|os.ModeSetgid); err != nil {
		t.Fatal(err)
	}
	return p
}

// cairn runs the binary as u (nil: root) with only the environment given, and returns stdout,
// stderr and the exit code.
func (p *pairing) cairn(u *testbed.User, env []string, args ...string) (string, string, int) {
	p.t.Helper()
	return p.cairnUmask(u, "022", env, args...)
}

// cairnUmask is cairn under a umask.
func (p *pairing) cairnUmask(u *testbed.User, umask string, env []string, args ...string) (string, string, int) {
	p.t.Helper()
	cmd := exec.Command("/bin/sh", append([]string{"-c", "umask " + umask + " && exec \"$0\" \"$@\"", p.bin}, args...)...)
	home := "/root"
	if u != nil {
		home = u.Home
		groups := []uint32{}
		if u != p.mallory {
			groups = append(groups, uint32(p.gid))
		}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: uint32(u.UID), Gid: uint32(u.GID), Groups: groups}}
	}
	cmd.Env = append([]string{"CAIRN_STATE_DIR=" + p.state, "HOME=" + home, "PATH=/usr/bin:/bin", "NO_COLOR=1"}, env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		p.t.Fatalf("cairn %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// runbook writes a runbook whose guarded step needs approvals (the starter counts as one) and
// touches marker; a second step follows it.
func (p *pairing) runbook(approvals int, marker string) string {
	p.t.Helper()
	dir := testbed.TempDir(p.t)
	rb := filepath.Join(dir, "guarded.yaml")
	text := `schema: 1
name: guarded
title: A guarded change
steps:
  - id: guarded
    kind: exec
    title: The guarded change
    approvals: ` + strconv.Itoa(approvals) + `
    destructive: true
    with:
      argv: [touch, ` + marker + `]
      check: {argv: [test, -e, ` + marker + `]}
  - id: after
    kind: exec
    title: Afterwards
    with:
      argv: ["true"]
      read_only: true
`
	if err := os.WriteFile(rb, []byte(text), 0o644); err != nil {
		p.t.Fatal(err)
	}
	return rb
}

func (p *pairing) onlyRun() *journal.Run { return onlyRunIn(p.t, p.state) }

func (p *pairing) waitFor(run *journal.Run, what string, cond func([]events.Event) bool) []events.Event {
	return waitForRecords(p.t, run, what, cond)
}

// stopRunner kills the run's live runner, as the kernel names it, when the test ends.
func (p *pairing) stopRunnerAtEnd(run *journal.Run) {
	p.t.Cleanup(func() {
		if li, alive := journal.Holder(run); alive && li.PID > 0 {
			_ = syscall.Kill(li.PID, syscall.SIGKILL)
		}
	})
}

func noteBy(recs []events.Event, frag string, uid int) *events.Event {
	for i, e := range recs {
		if e.Type == events.Note && strings.Contains(e.Note, frag) && e.Actor != nil && e.Actor.UID == uid {
			return &recs[i]
		}
	}
	return nil
}

// Approvals are the kernel's word: the starter cannot approve her own run under any environment,
// an answer file dropped in the run directory counts for nothing, a person counts once however
// often (and however: directly or through sudo) they approve, someone outside the group cannot
// reach the runner at all, and a group member's pause of the live run works.
func TestAdversaryApprovals(t *testing.T) {
	p := newPairing(t)
	markerDir := testbed.TempDir(t)
	os.Chown(markerDir, p.alice.UID, p.alice.GID)
	marker := filepath.Join(markerDir, "changed")
	rb := p.runbook(3, marker) // alice and two others

	// alice works under umask 077: the others still reach her run
	if _, errOut, code := p.cairnUmask(p.alice, "077", nil, "run", "guarded", "--file", rb, "--yes", "--no-tui", "--detach"); code != 0 {
		t.Fatalf("alice's run: %d %s", code, errOut)
	}
	run := p.onlyRun()
	p.stopRunnerAtEnd(run)
	p.waitFor(run, "the approval question", func(r []events.Event) bool { return hasQuestion(r, events.AskApproval) })

	st, err := os.Lstat(run.Path(journal.SocketFile))
	if err != nil || st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o660 || int(st.Sys().(*syscall.Stat_t).Gid) != p.gid {
		t.Fatalf("the runner's socket should be 0660 and the group's: %v %v", st, err)
	}

	// alice claims to be bob through SUDO_*: she is not root, so she is alice, the starter
	_, errOut, code := p.cairn(p.alice, []string{"SUDO_USER=" + p.bob.Name, "SUDO_UID=" + strconv.Itoa(p.bob.UID)}, "approve", run.ID)
	if code == 0 || !strings.Contains(errOut, "approval refused: "+p.alice.Name+" started run") {
		t.Fatalf("alice's approval as 'bob' was not refused as hers: %d %s", code, errOut)
	}

	// an answer file dropped where the old intake read answers
	recs, _ := journal.ReadAll(run)
	q := openQuestion(recs)
	os.MkdirAll(run.Path("answers"), 0o770)
	for _, who := range []*testbed.User{p.bob, p.carol} {
		forged, _ := json.Marshal(events.Answer{QuestionID: q.ID, Choice: "approve", By: &events.Actor{User: who.Name, UID: who.UID}})
		os.WriteFile(run.Path("answers", q.ID+"--"+who.Name+".json"), forged, 0o660)
	}

	// mallory, outside the group, cannot reach the run, let alone approve it
	if _, errOut, code := p.cairn(p.mallory, nil, "approve", run.ID); code == 0 {
		t.Fatalf("mallory approved: %s", errOut)
	}
	if _, errOut, code := p.cairn(p.mallory, nil, "pause", run.ID); code == 0 {
		t.Fatalf("mallory paused the run: %s", errOut)
	}

	// bob approves: the first approval counts (the dropped files counted for nothing)
	out, errOut, code := p.cairn(p.bob, nil, "approve", run.ID)
	if code != 0 || !strings.Contains(out, "approved by "+p.bob.Name+"@") || !strings.Contains(out, "(1 of 2)") {
		t.Fatalf("bob's approval: %d %s %s", code, out, errOut)
	}
	// again, and through sudo (root with SUDO_UID=bob is bob): still once
	_, errOut, code = p.cairn(p.bob, nil, "approve", run.ID)
	if code == 0 || !strings.Contains(errOut, "counts once (1 of 2)") {
		t.Fatalf("bob's second approval: %d %s", code, errOut)
	}
	_, errOut, code = p.cairn(nil, []string{"SUDO_USER=" + p.bob.Name, "SUDO_UID=" + strconv.Itoa(p.bob.UID)}, "approve", run.ID)
	if code == 0 || !strings.Contains(errOut, p.bob.Name+" has approved step guarded already") {
		t.Fatalf("bob's approval through sudo: %d %s", code, errOut)
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatal("the guarded step ran on one approver")
	}

	// a group member pauses the live run (in shared mode, from another account)
	if _, errOut, code := p.cairn(p.bob, nil, "pause", run.ID); code != 0 || !strings.Contains(errOut, "pause requested by "+p.bob.Name) {
		t.Fatalf("bob's pause: %d %s", code, errOut)
	}

	// carol is the second person: the step goes ahead
	out, errOut, code = p.cairn(p.carol, nil, "approve", run.ID)
	if code != 0 || !strings.Contains(out, "(2 of 2)") {
		t.Fatalf("carol's approval: %d %s %s", code, out, errOut)
	}
	// bob's pause stops the run before its next step, asking a person to continue
	recs = p.waitFor(run, "the pause's question", func(r []events.Event) bool {
		q := openQuestion(r)
		return q != nil && q.Purpose == events.PurposeResume
	})
	if _, err := os.Stat(marker); err != nil {
		t.Fatal("the approved step did not run")
	}
	cont := events.Answer{QuestionID: openQuestion(recs).ID, Yes: true}
	if rep, err := journal.Send(context.Background(), run, journal.Request{Kind: journal.AskAnswer, Answer: &cont}); err != nil || rep.Status != journal.ReplyDone {
		t.Fatalf("continue after the pause: %+v %v", rep, err)
	}
	recs = p.waitFor(run, "the run's end", func(r []events.Event) bool { return finished(r) != "" })
	if s := finished(recs); s != "succeeded" {
		t.Fatalf("run ended %s", s)
	}
	// the journal names each approver by the kernel's uid and the user database's name
	for _, who := range []*testbed.User{p.bob, p.carol} {
		e := noteBy(recs, "approved by "+who.Name+"@", who.UID)
		if e == nil || e.Actor.User != who.Name {
			t.Errorf("no approval recorded with %s's uid %d and name", who.Name, who.UID)
		}
	}
	if noteBy(recs, "refused: the engineer who started the run cannot approve it", p.alice.UID) == nil {
		t.Error("alice's refused approval is not recorded as hers")
	}
	paused := false
	for _, e := range recs {
		if e.Type == events.RunPaused && e.Actor != nil && e.Actor.UID == p.bob.UID {
			paused = true
		}
		if e.Actor != nil && e.Actor.UID == p.mallory.UID {
			t.Errorf("mallory reached the journal: %+v", e)
		}
	}
	if !paused {
		t.Error("bob's pause did not pause the run")
	}
	// with the runner gone, nothing can be answered, and the message says how to start one
	for {
		if _, alive := journal.Holder(run); !alive {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, errOut, code = p.cairn(p.bob, nil, "note", run.ID, "too late")
	if code == 0 || !strings.Contains(errOut, "no live runner") || !strings.Contains(errOut, "cairn resume "+run.ID) {
		t.Fatalf("a note with no runner: %d %s", code, errOut)
	}
}

// Signals go only to what is proven ours: a lock rewritten to name another root process does not
// get it signalled by --take-over, and a forged child.started record pointing at one does not get
// it killed by a resume; the run still resumes and completes for its owner.
func TestAdversarySignals(t *testing.T) {
	p := newPairing(t)
	marker := filepath.Join(testbed.TempDir(t), "changed")
	rb := p.runbook(2, marker)
	if _, errOut, code := p.cairn(nil, nil, "run", "guarded", "--file", rb, "--yes", "--no-tui", "--detach"); code != 0 {
		t.Fatalf("root's run: %d %s", code, errOut)
	}
	run := p.onlyRun()
	p.stopRunnerAtEnd(run)
	p.waitFor(run, "the approval question", func(r []events.Event) bool { return hasQuestion(r, events.AskApproval) })

	// a root process that is not cairn's, leading its own process group
	victim := exec.Command("sleep", "300")
	victim.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := victim.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { victim.Process.Kill(); victim.Wait() })
	vid, err := proc.Lookup(victim.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	// the lock rewritten to name the victim (its pid and start tick, this host)
	holder, alive := journal.Holder(run)
	if !alive {
		t.Fatal("no live runner")
	}
	forged := holder
	forged.PID, forged.StartTick = vid.PID, vid.StartTick
	b, _ := json.Marshal(forged)
	if err := os.WriteFile(run.Path(journal.LockFile), b, 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := p.cairn(nil, nil, "resume", run.ID, "--take-over", "--yes", "--no-tui", "--detach")
	if code == 0 || !strings.Contains(errOut, "take-over of run "+run.ID+" refused, nothing was signalled") {
		t.Fatalf("take-over with a forged lock: %d %s", code, errOut)
	}

	// the real runner dies; a forged record says the victim was its child
	if err := syscall.Kill(holder.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for {
		if _, alive := journal.Holder(run); !alive {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	recs, _ := journal.ReadAll(run)
	rec, _ := json.Marshal(events.Event{V: events.Version, Seq: recs[len(recs)-1].Seq + 1, Time: time.Now(), Type: events.ChildStarted, Step: "guarded",
		Child: &events.Child{PID: vid.PID, StartTick: vid.StartTick, UID: vid.UID, Argv0: vid.Argv[0], Sig: strings.Repeat("ab", 32)}})
	f, err := os.OpenFile(run.Path(journal.JournalFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(append(rec, '\n'))
	f.Close()

	if _, errOut, code := p.cairn(nil, nil, "resume", run.ID, "--yes", "--no-tui", "--detach"); code != 0 {
		t.Fatalf("resume: %d %s", code, errOut)
	}
	recs = p.waitFor(run, "the resumed runner's approval question", func(r []events.Event) bool {
		n := 0
		for _, e := range r {
			if e.Type == events.QuestionAsked {
				n++
			}
		}
		return n >= 2
	})
	if !hasNote(recs, "was not written by this run's runner: nothing signalled") {
		t.Error("the forged child record is not named in the journal")
	}
	// the victim lived through both: our SIGTERM is what ends it
	victim.Process.Signal(syscall.SIGTERM)
	victim.Wait()
	if ws := victim.ProcessState.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Fatalf("the victim was signalled by cairn: %v", victim.ProcessState)
	}

	// and the run completes for its owner
	if out, errOut, code := p.cairn(p.bob, nil, "approve", run.ID); code != 0 {
		t.Fatalf("bob's approval: %d %s %s", code, out, errOut)
	}
	recs = p.waitFor(run, "the run's end", func(r []events.Event) bool { return finished(r) != "" })
	if s := finished(recs); s != "succeeded" {
		t.Fatalf("run ended %s", s)
	}
}
