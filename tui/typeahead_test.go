package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui"
)

// gate is a guard timer the test releases by hand: until then every question stays in its grace
// period, however long the machine takes.
type gate chan time.Time

func (g gate) after(time.Duration) <-chan time.Time { return g }

// Typing into the void: Enter pressed in the same batch as a failure decision (and again while the
// question is on screen but not ready) is dropped; once the ready cue shows, the same Enter answers
// it, with the option that does not end the run.
func TestTypeAheadIsDropped(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			g := make(gate)
			d := deps()
			d.After = g.after
			f := newFake("r-20261126-0214")
			tm := start(t, tui.NewRunView(d, f, opts()...), sz.w, sz.h)
			atQuestion(f, "swap", events.Question{ID: "q3", Kind: events.AskDecision, Purpose: events.PurposeFailure,
				Prompt: "Step 4 failed: the restore was refused", Options: decisionOptions})
			tm.Send(key("enter")) // same batch as the question
			s := waitScreen(t, tm, "Step 4 failed", "keys pressed now are ignored")
			tm.Send(key("enter")) // on screen, still in its grace period
			tm.Type("3")
			s = waitScreen(t, tm, "Step 4 failed")
			if strings.Contains(s, "answer sent") || strings.Contains(s, readyCue) {
				t.Fatalf("answered (or ready) before the grace period ended:\n%s", s)
			}
			if a := f.Answers(); len(a) != 0 {
				t.Fatalf("type-ahead answered the question: %+v", a)
			}
			goldenAs(t, "not-ready", s)
			close(g)
			waitScreen(t, tm, readyCue)
			tm.Send(key("enter"))
			got := waitAnswers(t, f, 1)
			if want := (events.Answer{QuestionID: "q3", Choice: events.Retry}); len(got) != 1 || got[0] != want {
				t.Fatalf("answers = %+v, want exactly %+v (the dropped keys must not count)", got, want)
			}
			stop(t, tm)
		})
	}
}
