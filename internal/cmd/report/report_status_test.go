package report

import (
	"testing"
	"time"

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

// A step the runner was stopped in (SIGTERM) after 3 s of apply, found done by the resume: its
// time is those 3 s and the resume's verify, said as such — never the resume's 0s alone.
func TestReportTimeOfAStepStoppedThenFoundDone(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	st := events.NewRunState()
	for _, e := range []events.Event{
		{Type: events.RunStarted, Time: at(0), Run: &events.RunInfo{ID: "r-1", Steps: []events.StepInfo{{ID: "b"}}}},
		{Type: events.StepChecking, Step: "b", Time: at(0)},
		{Type: events.StepApplying, Step: "b", Time: at(0)},
		{Type: events.StepInterrupted, Step: "b", Time: at(3000), Phase: "apply"},
		{Type: events.RunFinished, Status: events.Interrupted, Time: at(3000)},
		{Type: events.RunResumed, Time: at(60000)},
		{Type: events.StepChecking, Step: "b", Time: at(60000)},
		{Type: events.StepApplied, Step: "b", Time: at(60001), AlreadyDone: true},
		{Type: events.StepVerifying, Step: "b", Time: at(60001)},
		{Type: events.StepVerified, Step: "b", Time: at(60011), Elapsed: events.Duration(10 * time.Millisecond)},
	} {
		st.Apply(e)
	}
	want := "3.01s, of which 3s before the runner was stopped in it; 1m0.011s from its first start to its end"
	if got := stepTime(st, st.Steps[0]); got != want {
		t.Fatalf("the report says %q, want %q", got, want)
	}
}
