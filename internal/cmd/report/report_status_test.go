package report

import (
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// The cut-back steps of a run that needed none are "not needed" in its report, not "pending"; a
// step of the run itself left undone stays pending.
func TestReportCutbackStepsNotNeeded(t *testing.T) {
	st := events.NewRunState()
	st.Apply(events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: "r-1", Steps: []events.StepInfo{
		{ID: "a"}, {ID: "b"}, {ID: "cut-a", Cutback: true}}}})
	st.Apply(events.Event{Type: events.StepVerified, Step: "a"})
	if got := reportStatus(st, st.Steps[2]); got != "if cut back" {
		t.Fatalf("cut-back step of a running run: %q", got)
	}
	st.Apply(events.Event{Type: events.RunFinished, Status: events.Aborted})
	if got := reportStatus(st, st.Steps[2]); got != "not needed" {
		t.Fatalf("cut-back step of a finished run: %q, want not needed", got)
	}
	if got := reportStatus(st, st.Steps[1]); got != string(events.StatusPending) {
		t.Fatalf("an undone step of the run: %q, want pending", got)
	}
}
