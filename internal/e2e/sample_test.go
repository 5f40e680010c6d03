package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// The sample runbook runs end to end on a real PostgreSQL: the role exists, can read, cannot write.
func TestSampleRunbookEndToEnd(t *testing.T) {
	w := newWorld(t)
	role := testbed.UniqueName(t, "app")
	out, errOut, code := w.cairn([]string{"CAIRN_ROLE_PASSWORD=pw-" + role}, "run", "sample-role", "-p", "role="+role, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s\nrunner log:\n%s", code, out, errOut, readLog(w))
	}
	if !strings.Contains(out, "run SUCCEEDED") {
		t.Fatalf("no success line:\n%s", out)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = $1 AND rolcanlogin", role); n != 1 {
		t.Fatalf("role %s not created", role)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM cairn_sample_applied"); n != 3 {
		t.Fatalf("want 3 applied rows, got %d", n)
	}
	// a second run finds every step already done and applies nothing
	out2, _, code := w.cairn([]string{"CAIRN_ROLE_PASSWORD=pw-" + role}, "run", "sample-role", "-p", "role="+role, "--yes", "--no-tui")
	if code != 0 || strings.Count(out2, "check: done") < 3 {
		t.Fatalf("re-run should find the work done (exit %d):\n%s", code, out2)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM cairn_sample_applied"); n != 3 {
		t.Fatalf("re-run applied again: %d rows", n)
	}
}

// A runner killed with SIGKILL inside a step is resumed: every step applied exactly once, counted
// in the database.
func TestKillAndResume(t *testing.T) {
	w := newWorld(t)
	role := testbed.UniqueName(t, "app")
	lockKey := "cairn-test-" + role
	// the test holds the advisory lock the steps wait on
	holder := w.pg.Conn(t, "postgres", w.pg.Superuser)
	ctx := context.Background()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		t.Fatal(err)
	}
	pwEnv := []string{"CAIRN_ROLE_PASSWORD=pw-" + role}
	_, errOut, code := w.cairn(pwEnv, "run", "sample-role", "-p", "role="+role, "-p", "hold-lock="+lockKey, "--yes", "--no-tui", "--detach")
	if code != 0 {
		t.Fatalf("detach run: %d %s", code, errOut)
	}
	run := w.onlyRun()
	w.waitFor(run, "create-role applying", func(r []events.Event) bool { return has(r, events.StepApplying, "create-role") })
	time.Sleep(300 * time.Millisecond) // the step is now blocked on the lock inside its transaction
	li, alive := journal.Holder(run)
	if !alive {
		t.Fatal("runner not alive")
	}
	if err := syscall.Kill(li.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitDead(t, li.PID)
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", lockKey); err != nil {
		t.Fatal(err)
	}
	out, errOut, code := w.cairn(pwEnv, "resume", run.ID, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("resume exit %d\n%s\n%s\n%s", code, out, errOut, readLog(w))
	}
	rows := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM cairn_sample_applied")
	per := w.pg.QueryInt(t, "postgres", "SELECT count(DISTINCT step) FROM cairn_sample_applied")
	if rows != 3 || per != 3 {
		t.Fatalf("each step must apply exactly once: %d rows over %d steps", rows, per)
	}
	// the resume's lines and the report name the death and do not pass the killed step's time off
	// as the resumed part
	for _, want := range []string{"  the runner before died during step create-role (running), with no final record (killed or crashed)",
		"[create-role] applied in "} {
		if !strings.Contains(out, want) {
			t.Errorf("the resume's output lacks %q:\n%s", want, out)
		}
	}
	if i := strings.Index(out, "[create-role] applied in "); i >= 0 && !strings.Contains(out[i:], "(since the resume; first started ") {
		t.Errorf("the resumed step's time does not say it is only since the resume:\n%s", out[i:])
	}
	report, errOut, code := w.cairn(nil, "report", run.ID)
	if code != 0 {
		t.Fatalf("report exit %d: %s", code, errOut)
	}
	for _, want := range []string{
		"- Runner died: during step create-role (running), with no final record (killed or crashed)",
		" run: RUNNER DIED during step create-role (running)",
		"after the resume — the runner died in it, with no record after the step's start;",
		"from its first start to its end |",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("the report lacks %q:\n%s", want, report)
		}
	}
	if strings.Count(report, "RUNNER DIED") != 1 {
		t.Errorf("one runner died, the report says %d:\n%s", strings.Count(report, "RUNNER DIED"), report)
	}
}

// Closing the terminal (SIGHUP to the session of `cairn run`) does not stop the run.
func TestRunSurvivesHangup(t *testing.T) {
	w := newWorld(t)
	role := testbed.UniqueName(t, "app")
	lockKey := "cairn-hup-" + role
	holder := w.pg.Conn(t, "postgres", w.pg.Superuser)
	ctx := context.Background()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		t.Fatal(err)
	}
	cmd := execCairn(w, []string{"CAIRN_ROLE_PASSWORD=pw"}, "run", "sample-role", "-p", "role="+role, "-p", "hold-lock="+lockKey, "--yes", "--no-tui")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true} // its own session, like a terminal's
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	var run *journal.Run
	for time.Now().Before(deadline) && run == nil {
		if ids, _ := journal.List(w.state); len(ids) == 1 {
			run, _ = journal.Open(w.state, ids[0])
		}
		time.Sleep(50 * time.Millisecond)
	}
	if run == nil {
		t.Fatal("no run")
	}
	w.waitFor(run, "applying", func(r []events.Event) bool { return has(r, events.StepApplying, "create-role") })
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGHUP) // the terminal goes away
	_ = cmd.Wait()
	_, _ = holder.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", lockKey)
	recs := w.waitFor(run, "run finished", func(r []events.Event) bool { return finished(r) != "" })
	if s := finished(recs); s != "succeeded" {
		t.Fatalf("run ended %s after hangup", s)
	}
}

func waitDead(t *testing.T, pid int) {
	for i := 0; i < 100; i++ {
		if err := syscall.Kill(pid, 0); err != nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func readLog(w *world) string {
	ids, _ := journal.List(w.state)
	var b strings.Builder
	for _, id := range ids {
		data, _ := os.ReadFile(filepath.Join(journal.RunsDir(w.state), id, journal.RunnerLog))
		b.Write(data)
	}
	return b.String()
}

// Another engineer takes a live run over: the old runner stops, the new one finishes, the journal
// says who took over, and no step applies twice.
func TestTakeOver(t *testing.T) {
	w := newWorld(t)
	role := testbed.UniqueName(t, "app")
	lockKey := "cairn-takeover-" + role
	holder := w.pg.Conn(t, "postgres", w.pg.Superuser)
	ctx := context.Background()
	if _, err := holder.Exec(ctx, "SELECT pg_advisory_lock(hashtext($1))", lockKey); err != nil {
		t.Fatal(err)
	}
	pwEnv := []string{"CAIRN_ROLE_PASSWORD=pw-" + role}
	if _, errOut, code := w.cairn(pwEnv, "run", "sample-role", "-p", "role="+role, "-p", "hold-lock="+lockKey, "--yes", "--no-tui", "--detach"); code != 0 {
		t.Fatal(errOut)
	}
	run := w.onlyRun()
	w.waitFor(run, "applying", func(r []events.Event) bool { return has(r, events.StepApplying, "create-role") })
	if _, errOut, code := w.cairn(pwEnv, "resume", run.ID, "--yes", "--no-tui"); code != 7 || !strings.Contains(errOut, "--take-over") {
		t.Fatalf("resume of a live run: %d %s", code, errOut)
	}
	go func() {
		time.Sleep(2 * time.Second)
		holder.Exec(ctx, "SELECT pg_advisory_unlock(hashtext($1))", lockKey)
	}()
	out, errOut, code := w.cairn(pwEnv, "resume", run.ID, "--take-over", "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("take over: %d\n%s\n%s", code, out, errOut)
	}
	recs, _ := journal.ReadAll(run)
	if !hasNote(recs, "taken over by") {
		t.Fatal("journal does not record the take-over")
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM cairn_sample_applied"); n != 3 {
		t.Fatalf("want 3 applied rows, got %d", n)
	}
}
