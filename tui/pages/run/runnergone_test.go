package run

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// A runner that died without a word (the follower's runner.gone) ends the page: the step is no
// longer running and its time stops, leaving does not claim the run goes on, and the page says who
// died, during what, and `cairn resume`.
func TestRunnerGoneStopsTheRunningStep(t *testing.T) {
	now := t0.Add(time.Minute)
	c := common.New(func() time.Time { return now })
	m := New(c, Config{Source: &src{ch: make(chan events.Event)}})
	m.Apply(started()...)
	if !m.Running() || m.State().Step("a").Status != events.StatusRunning {
		t.Fatalf("before: running %v, step a %s", m.Running(), m.State().Step("a").Status)
	}
	gone := events.Event{Type: events.RunnerGone, Step: "a", Time: now, Error: &events.Diag{
		Summary: "the runner died (pid 4242) during step a",
		State:   "the run is unfinished; step a was running and may be partly done",
		Next:    "cairn resume r-1 (it checks a first)",
	}}
	m.Update(EventsMsg{Events: []events.Event{gone}, Closed: true})

	if st := m.State().Step("a").Status; st != events.StatusInterrupted {
		t.Fatalf("step a is %s after its runner died, want interrupted", st)
	}
	if m.Running() || m.LeaveMessage() != "" {
		t.Fatalf("the page still takes the run as going on: running %v, leave message %q", m.Running(), m.LeaveMessage())
	}
	before := m.View(100, 20)
	for _, want := range []string{"the runner died (pid 4242) during step a", "cairn resume r-1"} {
		if !strings.Contains(before, want) {
			t.Fatalf("the page does not say %q:\n%s", want, before)
		}
	}
	now = now.Add(10 * time.Minute)
	if after := m.View(100, 20); after != before {
		t.Fatalf("the page goes on changing after the runner died (a ticking step?):\n%s\n---\n%s", before, after)
	}
}
