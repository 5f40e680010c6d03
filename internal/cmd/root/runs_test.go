package root

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
)

// `cairn runs` tells an interrupted run from a succeeded one, and a run whose runner died without a
// word (no live runner, a question left open) from one that waits.
func TestRunsSaysHowEachRunStands(t *testing.T) {
	state := t.TempDir()
	write := func(recs ...events.Event) string {
		t.Helper()
		id := journal.NewID(time.Now())
		run, err := journal.Create(state, journal.Meta{ID: id, Runbook: "rb"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		w, err := journal.OpenWriter(run, journal.LockInfo{PID: 1}, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		start := events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: id, Runbook: "rb", Steps: []events.StepInfo{{ID: "a"}, {ID: "b"}}}}
		for _, e := range append([]events.Event{start}, recs...) {
			if _, err := w.Append(e); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
		return id
	}
	ok := write(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepVerified, Step: "b"},
		events.Event{Type: events.RunFinished, Status: events.Succeeded})
	stopped := write(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepApplying, Step: "b"},
		events.Event{Type: events.StepInterrupted, Step: "b", Phase: "apply"}, events.Event{Type: events.RunFinished, Status: events.Interrupted})
	died := write(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepChecking, Step: "b"},
		events.Event{Type: events.QuestionAsked, Step: "b", Question: &events.Question{ID: "q1", Kind: events.AskConfirm, Purpose: events.PurposeApply}})
	runs, err := listRuns(state)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]RunSummary{}
	for _, r := range runs {
		got[r.ID] = r
	}
	if r := got[ok]; r.Final != events.Succeeded || r.Status != "succeeded" {
		t.Errorf("succeeded run: %+v", r)
	}
	if r := got[stopped]; r.Final != events.Interrupted || r.Status != "interrupted" || !strings.HasPrefix(r.Current, "b (interrupted)") {
		t.Errorf("interrupted run: %+v", r)
	}
	if r := got[died]; r.Final != "" || r.Status != "unfinished" || !strings.Contains(r.Current, "when its runner died") {
		t.Errorf("run whose runner died: %+v", r)
	}
}
