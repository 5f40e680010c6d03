package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/events"
)

// `cairn runs` tells an interrupted run from a succeeded one, and a run whose runner died without a
// word (no live runner, a question left open) from one that waits.
func TestRunsSaysHowEachRunStands(t *testing.T) {
	state := t.TempDir()
	write := func(recs ...events.Event) string { return cmdtest.WriteRun(t, state, recs...).ID }
	ok := write(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepVerified, Step: "b"},
		events.Event{Type: events.RunFinished, Status: events.Succeeded})
	stopped := write(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepApplying, Step: "b"},
		events.Event{Type: events.StepInterrupted, Step: "b", Phase: "apply"}, events.Event{Type: events.RunFinished, Status: events.Interrupted})
	died := write(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepChecking, Step: "b"},
		events.Event{Type: events.QuestionAsked, Step: "b", Question: &events.Question{ID: "q1", Kind: events.AskConfirm, Purpose: events.PurposeApply}})
	runs, err := shared.ListRuns(state)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]shared.RunSummary{}
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
