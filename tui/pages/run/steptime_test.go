package run

import (
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// A step a runner died in shows, once a resume finished it, its time from its first start to its
// end (28s: the dead runner's part included), as the report and the plain view say it — not only
// the 2s the resumed runner counted; a step no runner died in shows its own apply+verify time.
func TestStepListTimeOfAStepARunnerDiedIn(t *testing.T) {
	m, _ := page(true)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m.Apply(events.Event{Type: events.RunStarted, Time: at(0), Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: []events.StepInfo{
		{ID: "sync", Title: "Wait for the copy"}, {ID: "cutover", Title: "Cut over"}}}},
		events.Event{Type: events.StepChecking, Step: "sync", Time: at(0)},
		events.Event{Type: events.StepApplying, Step: "sync", Time: at(1)},
		events.Event{Type: events.RunResumed, Time: at(27)},
		events.Event{Type: events.StepChecking, Step: "sync", Time: at(27)},
		events.Event{Type: events.StepApplying, Step: "sync", Time: at(27)},
		events.Event{Type: events.StepApplied, Step: "sync", Time: at(28), Elapsed: time.Second},
		events.Event{Type: events.StepVerifying, Step: "sync", Time: at(28)},
		events.Event{Type: events.StepVerified, Step: "sync", Time: at(29), Elapsed: time.Second},
		events.Event{Type: events.StepChecking, Step: "cutover", Time: at(29)},
		events.Event{Type: events.StepApplying, Step: "cutover", Time: at(29)},
		events.Event{Type: events.StepApplied, Step: "cutover", Time: at(33), Elapsed: 4 * time.Second},
		events.Event{Type: events.StepVerifying, Step: "cutover", Time: at(33)},
		events.Event{Type: events.StepVerified, Step: "cutover", Time: at(34), Elapsed: time.Second},
		events.Event{Type: events.RunFinished, Status: events.Succeeded, Time: at(34)})
	v := ansi.Strip(m.View(80, 20))
	rows := map[string]string{}
	for _, l := range strings.Split(v, "\n") {
		for _, title := range []string{"Wait for the copy", "Cut over"} {
			if list, _, _ := strings.Cut(l, "│"); strings.Contains(list, "✓ "+title) {
				rows[title] = strings.TrimSpace(list)
			}
		}
	}
	if r := rows["Wait for the copy"]; !strings.HasSuffix(r, " 28s") {
		t.Errorf("the step the runner died in: %q, want its 28s from its first start to its end\n%s", r, v)
	}
	if r := rows["Cut over"]; !strings.HasSuffix(r, " 5s") {
		t.Errorf("the step no runner died in: %q, want its 5s of apply and verify\n%s", r, v)
	}
}
