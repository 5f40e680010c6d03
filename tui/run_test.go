package tui_test

import (
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui"
)

// scriptRunning: step 1 done with output, step 2 copying at 42%.
func scriptRunning(f *fakeSource, lines int) {
	f.emit(0, events.Event{Type: events.RunStarted, Run: sampleRunInfo(f.id)})
	f.emit(1, events.Event{Type: events.StepChecking, Step: "snapshot"})
	f.emit(2, events.Event{Type: events.StepChecked, Step: "snapshot", Check: &events.CheckInfo{State: "ready", Change: "create", Reason: "no snapshot app-db-pre-kms yet"}})
	f.emit(2, events.Event{Type: events.StepApplying, Step: "snapshot"})
	f.emit(40, events.Event{Type: events.StepApplied, Step: "snapshot", Elapsed: 38 * time.Second})
	f.emit(40, events.Event{Type: events.StepVerifying, Step: "snapshot"})
	f.emit(42, events.Event{Type: events.StepVerified, Step: "snapshot", Elapsed: 2 * time.Second})
	f.emit(43, events.Event{Type: events.StepChecking, Step: "copy"})
	f.emit(44, events.Event{Type: events.StepChecked, Step: "copy", Check: &events.CheckInfo{State: "ready", Change: "create", Reason: "app-db-enc does not exist"}})
	f.emit(44, events.Event{Type: events.StepApplying, Step: "copy"})
	for i := 0; i < lines; i++ {
		f.emit(45, events.Event{Type: events.OutputLine, Step: "copy", Line: &events.Line{Stream: "stdout", Text: "copy-snapshot: waiting for app-db-enc (status copying) line " + itoa(i+1)}})
	}
	f.emit(60, events.Event{Type: events.Progressed, Step: "copy", Progress: &events.Progress{Done: 42, Total: 100, Unit: "%"}})
}

func itoa(i int) string { return time.Duration(i).String()[:len(time.Duration(i).String())-2] }

func TestRunScreen(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFake("r-20261126-0214")
			scriptRunning(f, 30)
			tm := start(t, tui.NewRunView(deps(), f, opts()...), sz.w, sz.h)
			s := waitScreen(t, tm, "42%", "line 30")
			golden(t, s)
			stop(t, tm)
		})
	}
}
