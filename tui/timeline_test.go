package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui"
)

// scriptFinished: the whole sample run, each step's work stretched by scale, the stop-app
// confirmation answered after a minute, ending as a success.
func scriptFinished(f *fakeSource, rehearsal bool, scale float64) {
	info := sampleRunInfo(f.id)
	info.Rehearsal = rehearsal
	at := 0
	emit := func(after int, e events.Event) {
		at += int(float64(after) * scale)
		f.emit(at, e)
	}
	emit(0, events.Event{Type: events.RunStarted, Run: info})
	step := func(id string, took int) {
		emit(1, events.Event{Type: events.StepChecking, Step: id})
		emit(1, events.Event{Type: events.StepApplying, Step: id})
		emit(took, events.Event{Type: events.StepVerifying, Step: id})
		emit(2, events.Event{Type: events.StepVerified, Step: id, Elapsed: time.Duration(float64(took+2)*scale) * time.Second})
	}
	step("snapshot", 200)
	step("copy", 700)
	emit(1, events.Event{Type: events.StepChecking, Step: "stop-app"})
	emit(1, events.Event{Type: events.QuestionAsked, Step: "stop-app", Question: &events.Question{ID: "q-stop", Kind: events.AskConfirm, Prompt: "Stop the application?"}})
	f.emit(at+60, events.Event{Type: events.QuestionAnswered, Answer: &events.Answer{QuestionID: "q-stop", Yes: true}})
	at += 60
	step("stop-app", 20)
	step("swap", 1100)
	step("verify", 50)
	emit(1, events.Event{Type: events.RunFinished, Status: events.Succeeded})
}

// twinOf is an earlier rehearsal's records: the sample run six days before, a little slower.
func twinOf() []events.Event {
	f := newFake("r-20261120-2200")
	scriptFinished(f, true, 1.15)
	close(f.ch)
	var evs []events.Event
	for e := range f.ch {
		e.Time = e.Time.Add(-6 * 24 * time.Hour)
		evs = append(evs, e)
	}
	return evs
}

func timelineDeps() tui.Deps {
	d := deps()
	d.Twin = func(run events.RunInfo, started time.Time) []events.Event {
		if run.ID == "r-20261120-2200" || !started.Equal(t0) {
			return nil
		}
		return twinOf()
	}
	return d
}

// t opens the timeline on a live run: tonight's bars so far, the rehearsal's under them, the
// window's end; it follows the run (a step that ends shows how it compares, a question opens under
// the chart); t again goes back to the step list.
func TestTimelineLive(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFake("r-20261126-0214")
			scriptRunning(f, 30)
			tm := start(t, tui.NewRunView(timelineDeps(), f, opts()...), sz.w, sz.h)
			waitScreen(t, tm, "42%")
			tm.Type("t")
			s := waitScreen(t, tm, "░ rehearsal r-20261120-2200", "│45m")
			if strings.Contains(s, "line 30") {
				t.Fatalf("the output pane is still there with the timeline open:\n%s", s)
			}
			for _, l := range strings.Split(s, "\n") {
				if n := len([]rune(l)); n > sz.w {
					t.Fatalf("a line of %d columns on a %d-column terminal: %q", n, sz.w, l)
				}
			}
			goldenAs(t, "copying", s)

			f.emit(80, events.Event{Type: events.StepVerified, Step: "copy", Elapsed: 36 * time.Second})
			f.emit(81, events.Event{Type: events.StepChecking, Step: "stop-app"})
			f.emit(82, events.Event{Type: events.QuestionAsked, Step: "stop-app", Question: &events.Question{ID: "q-stop", Kind: events.AskConfirm, Prompt: "Stop the application's writes?"}})
			s = waitScreen(t, tm, "Stop the application's writes?", "37s −", readyCue)
			goldenAs(t, "asking", s)

			tm.Type("t")
			waitScreen(t, tm, "3/5  Stop the application")
			stop(t, tm)
		})
	}
}

// A finished rehearsal on the timeline, beside the earlier rehearsal it is compared with.
func TestTimelineFinishedRehearsal(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFake("r-20261126-0214")
			scriptFinished(f, true, 1)
			tm := start(t, tui.NewRunView(timelineDeps(), f, opts()...), sz.w, sz.h)
			waitScreen(t, tm, "run succeeded")
			tm.Type("t")
			s := waitScreen(t, tm, "this rehearsal", "░ rehearsal r-20261120-2200")
			golden(t, s)
			stop(t, tm)
		})
	}
}
