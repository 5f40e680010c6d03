package cmdtest

import (
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
)

// At is the clock of every run WriteRun writes: its records are stamped at this instant.
var At = time.Date(2026, 12, 4, 13, 37, 18, 0, time.UTC)

// WriteRun writes a run of runbook "rb" with steps a and b under state, as its runner would have
// journaled it: RunStarted, then recs; no runner is left holding it.
func WriteRun(t *testing.T, state string, recs ...events.Event) *journal.Run {
	t.Helper()
	id := journal.NewID(time.Now())
	run, err := journal.Create(state, journal.Meta{ID: id, Runbook: "rb"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	w, err := journal.OpenWriter(run, journal.LockInfo{PID: 1}, func() time.Time { return At })
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	start := events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: id, Runbook: "rb", Steps: []events.StepInfo{{ID: "a", Title: "step a"}, {ID: "b", Title: "step b"}}}}
	for _, e := range append([]events.Event{start}, recs...) {
		if _, err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	return run
}
