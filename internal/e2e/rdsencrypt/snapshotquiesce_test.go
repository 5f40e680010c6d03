package rdsencrypt_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// Strategy snapshot-copy with a writer the quiesce cannot block (a job connected as a privileged
// login, writing after the snapshot): the application role is refused while quiesced, the copy
// lacks the row, so the run fails before the swap naming the table; the source keeps its name;
// rollback lifts the quiesce and the application logs in again.
func TestSnapshotCopyWriteAfterSnapshotFailsBeforeSwap(t *testing.T) {
	r := newRig(t)
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=snapshot-copy")...)
	out, code := r.cairn(append(args, "--yes", "--confirm", openWindow, "--on-failure", "abort", "--detach")...)
	if code != 0 {
		t.Fatalf("detached run: exit %d\n%s", code, out)
	}
	run := r.runs()[0]
	r.waitJournal(run, "snapshot applied", func(e []events.Event) bool { return has(e, events.StepApplied, "snapshot") })
	if c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo"); err == nil {
		_ = c.Close(context.Background())
		t.Fatal("the application role logged in to the quiesced source")
	}
	if _, err := r.superuser(twin.DemoInstance, "app").Exec(context.Background(), "INSERT INTO audit.events (actor, what) VALUES ('job', 'after the snapshot')"); err != nil {
		t.Fatal(err)
	}
	r.waitJournal(run, "the run's end", func(e []events.Event) bool { return has(e, events.RunFinished, "") })
	recs, _ := journal.ReadAll(run)
	var failed string
	for _, e := range recs {
		if e.Type == events.StepFailed {
			failed = fmt.Sprintf("%s: %+v", e.Step, e.Error)
		}
		if e.Type == events.StepApplied && (e.Step == "rename-source" || e.Step == "rename-target") {
			t.Fatalf("%s was applied after a write landed on the source", e.Step)
		}
	}
	if !strings.HasPrefix(failed, "compare-rows: ") || !strings.Contains(failed, "app.audit.events:") {
		t.Fatalf("want the run to fail at compare-rows naming app.audit.events, got %q\n%s", failed, r.runnerLog())
	}
	// It ended inside the window: its last word says the application is still stopped, and how to
	// end that.
	var fin events.Event
	for _, e := range recs {
		if e.Type == events.RunFinished {
			fin = e
		}
	}
	if !strings.Contains(fin.Note, "THE APPLICATION IS STILL STOPPED") || !strings.Contains(fin.Note, "`cairn rollback "+run.ID+"`") {
		t.Fatalf("the run's end inside the window: want it to say the application is still stopped and name the rollback, got %+v", fin)
	}
	if found, enc, _, _, _ := r.instance(twin.DemoInstance); !found || enc {
		t.Fatalf("%s: found=%v encrypted=%v, want the unencrypted source under its name", twin.DemoInstance, found, enc)
	}
	out, code = r.cairn("rollback", run.ID, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s", code, out)
	}
	for deadline := time.Now().Add(3 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		recs, _ := journal.ReadAll(run)
		n := 0
		for _, x := range recs {
			if x.Type == events.RunFinished {
				n++
			}
		}
		if _, alive := journal.Holder(run); n >= 2 && !alive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the rollback did not finish in 3 minutes\n%s", r.runnerLog())
		}
	}
	c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		t.Fatalf("after rollback the application role cannot log in to the source: %v\n%s", err, r.runnerLog())
	}
	_ = c.Close(context.Background())
}
