package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmd/report"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// journalRun writes a run of two steps to the state dir: a rehearsal or not, the copy taking copy.
func journalRun(t *testing.T, state string, start time.Time, rehearsal bool, copy time.Duration) *journal.Run {
	t.Helper()
	r, err := journal.Create(state, journal.Meta{ID: journal.NewID(start), Runbook: "rds-encrypt", Rehearsal: rehearsal, Started: start}, []byte("schema: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := journal.OpenWriter(r, journal.LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	at := func(d time.Duration) time.Time { return start.Add(d) }
	for _, e := range []events.Event{
		{Type: events.RunStarted, Time: at(0), Run: &events.RunInfo{ID: r.ID, Runbook: "rds-encrypt", Title: "Encrypt: an RDS instance", Rehearsal: rehearsal, WindowEnd: at(time.Hour),
			Steps: []events.StepInfo{{ID: "snapshot", Title: "Snapshot the instance"}, {ID: "copy", Title: "Copy the snapshot; re-encrypt"}}}},
		{Type: events.StepChecking, Step: "snapshot", Time: at(time.Second)},
		{Type: events.StepVerified, Step: "snapshot", Time: at(time.Minute), Elapsed: time.Minute},
		{Type: events.StepChecking, Step: "copy", Time: at(time.Minute)},
		{Type: events.StepVerified, Step: "copy", Time: at(time.Minute + copy), Elapsed: copy},
		{Type: events.RunFinished, Status: events.Succeeded, Time: at(time.Minute + copy)},
	} {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	return r
}

// cairn report draws the run beside its rehearsal as a Mermaid gantt block that mermaid's own
// parser accepts, with a plain chart; --format is checked before anything is read.
func TestReportTimeline(t *testing.T) {
	state := t.TempDir()
	night := time.Date(2026, 11, 26, 2, 14, 0, 0, time.UTC)
	rehearsal := journalRun(t, state, night.Add(-48*time.Hour), true, 20*time.Minute)
	tonight := journalRun(t, state, night, false, 14*time.Minute)

	env := map[string]string{"CAIRN_STATE_DIR": state}
	md, _, err := cmdtest.Output(env, report.NewCmdReport, tonight.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Timeline", "Beside rehearsal " + rehearsal.ID, "same runbook text", "```mermaid\ngantt", "section rehearsal " + rehearsal.ID, "```text", "░ rehearsal " + rehearsal.ID} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
	if err := testbed.MermaidParse(t, md); err != nil {
		t.Fatalf("mermaid rejects the report: %v\n%s", err, md)
	}

	if out, _, err := cmdtest.Output(env, report.NewCmdReport, rehearsal.ID); err != nil || !strings.Contains(out, "No earlier rehearsal of rds-encrypt succeeded") {
		t.Fatalf("the first rehearsal's report: %v\n%s", err, out)
	}

	if _, _, err := cmdtest.Output(env, report.NewCmdReport, "--format", "html", "20261204-133718.123-a1b2c3"); !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "use md or json") {
		t.Fatalf("--format html: %v, want a usage error before the (missing) run is looked up", err)
	}
}
