package runner

import (
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/redact"
)

// newKeyedRunner is a runner on a fresh run, holding its lock and its key.
func newKeyedRunner(t *testing.T) *Runner {
	t.Helper()
	run, err := journal.Create(t.TempDir(), journal.Meta{ID: journal.NewID(time.Now())}, []byte("schema: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := journal.OpenWriter(run, journal.LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.Close() })
	r := &Runner{cfg: Config{Run: run}, w: w, red: redact.New(), cancel: func() {}}
	if err := r.loadKey(); err != nil {
		t.Fatal(err)
	}
	return r
}

// sleeper starts `sleep` as cairn starts a child: leading its own process group.
func sleeper(t *testing.T, pgid bool) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("sleep", "120")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: pgid}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	return cmd
}

// diedOf stops the process with SIGTERM and says which signal ended it: SIGKILL means
// killLeftovers got there first.
func diedOf(t *testing.T, cmd *exec.Cmd) syscall.Signal {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	_ = cmd.Wait()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() {
		t.Fatalf("%v did not end on a signal: %v", cmd.Args, cmd.ProcessState)
	}
	return ws.Signal()
}

func started(c *events.Child) events.Event { return events.Event{Type: events.ChildStarted, Child: c} }

// Only a child the run's own runner recorded and signed, still the same process, is stopped; a
// record forged in the journal — unsigned, signed with another key, or signed but naming a
// process that is not that child — gets nothing signalled, and says so in the journal.
func TestLeftoversOnlyWhatTheRunnerRecorded(t *testing.T) {
	r := newKeyedRunner(t)
	ours := sleeper(t, true)
	rec := r.childRecord(ours.Process.Pid, "sleep")
	if rec.UID != os.Getuid() || rec.StartTick == 0 || rec.Sig == "" {
		t.Fatalf("record %+v", rec)
	}

	unsigned := sleeper(t, true)
	u := r.childRecord(unsigned.Process.Pid, "sleep")
	u.Sig = ""

	otherKey := sleeper(t, true)
	o := r.childRecord(otherKey.Process.Pid, "sleep")
	other := newKeyedRunner(t)
	other.cfg.Run.ID = r.cfg.Run.ID
	o.Sig = other.sign(o)

	wrongArgv := sleeper(t, true)
	a := &events.Child{PID: wrongArgv.Process.Pid, UID: os.Getuid(), Argv0: "pg_ctl"}
	a.StartTick, _ = proc.StartTick(wrongArgv.Process.Pid)
	a.Sig = r.sign(a)

	wrongUID := sleeper(t, true)
	wu := r.childRecord(wrongUID.Process.Pid, "sleep")
	wu.UID++
	wu.Sig = r.sign(wu)

	notLeader := sleeper(t, false) // in the test's own process group: a group kill would hit us
	nl := r.childRecord(notLeader.Process.Pid, "sleep")

	r.killLeftovers([]events.Event{started(rec), started(u), started(o), started(a), started(wu), started(nl)})

	if s := diedOf(t, ours); s != syscall.SIGKILL {
		t.Errorf("the runner's own leftover was not stopped (ended by %v)", s)
	}
	for name, cmd := range map[string]*exec.Cmd{"unsigned": unsigned, "other key": otherKey, "wrong argv0": wrongArgv, "wrong uid": wrongUID, "not a group leader": notLeader} {
		if s := diedOf(t, cmd); s != syscall.SIGTERM {
			t.Errorf("%s record: the process was signalled (%v)", name, s)
		}
	}
	recs, _ := journal.ReadAll(r.cfg.Run)
	var notes []string
	for _, e := range recs {
		notes = append(notes, e.Note)
	}
	all := strings.Join(notes, "\n")
	for _, want := range []string{"stopped leftover sleep", "was not written by this run's runner", "runs another program", "runs as uid", "not the leader of its own process group"} {
		if !strings.Contains(all, want) {
			t.Errorf("no note %q in:\n%s", want, all)
		}
	}
}

// A key file anyone but the run's owner could have written or read is not trusted.
func TestLeftoverKeyMustBePrivate(t *testing.T) {
	r := newKeyedRunner(t)
	if err := os.Chmod(r.cfg.Run.Path(KeyFile), 0o640); err != nil {
		t.Fatal(err)
	}
	r.key = nil
	if err := r.loadKey(); err == nil || !strings.Contains(err.Error(), "not trusted") {
		t.Fatalf("a 0640 key was accepted: %v", err)
	}
}
