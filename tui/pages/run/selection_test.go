package run

import (
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// After a resume that succeeded, with a step not on this path skipped last: the page shows the
// last step that ran (its output, its n/N — N the steps of this path: neither the other strategy's
// step nor the cut-back nobody chose counts), not the skipped one, and the downtime under the
// banner; ↑/k and g move to earlier steps, ↓/j back, G follows the run again. While the run goes
// on the page follows the step in flight.
func TestSelectionFollowsTheRunAndMoves(t *testing.T) {
	m, _ := page(false)
	out := func(step, text string) events.Event {
		return events.Event{Type: events.OutputLine, Step: step, Line: &events.Line{Stream: "info", Text: text}}
	}
	m.Apply(events.Event{Type: events.RunStarted, Time: t0, Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: []events.StepInfo{
		{ID: "sync", Title: "Wait for the copy"}, {ID: "cutover", Title: "Cut over"}, {ID: "downtime", Title: "Downtime"},
		{ID: "delete-old", Title: "Delete the old unencrypted instance", OffPath: "strategy is replicate"},
		{ID: "point-back", Title: "Point the application back", Cutback: true}}}})
	m.Apply(events.Event{Type: events.RunResumed, Time: t0},
		events.Event{Type: events.StepApplying, Step: "sync", Time: t0}, out("sync", "every table synced (5)"),
		events.Event{Type: events.StepVerified, Step: "sync", Time: t0},
		events.Event{Type: events.StepApplying, Step: "cutover", Time: t0}, out("cutover", "rows: 5 tables, row counts equal"))
	if v := m.View(80, 22); !strings.Contains(v, "2/3  Cut over") || !strings.Contains(v, "row counts equal") {
		t.Fatalf("the page does not follow the step in flight:\n%s", v)
	}
	m.Apply(events.Event{Type: events.StepVerified, Step: "cutover", Time: t0},
		events.Event{Type: events.StepApplying, Step: "downtime", Time: t0}, out("downtime", "downtime 10.45s: quiesce → answering"),
		events.Event{Type: events.StepApplied, Step: "downtime", Time: t0, Outputs: map[string]string{"downtime": "10.45s"}},
		events.Event{Type: events.StepVerified, Step: "downtime", Time: t0},
		events.Event{Type: events.StepSkipped, Step: "delete-old", Time: t0, Note: "condition is false"},
		events.Event{Type: events.RunFinished, Status: events.Succeeded, Time: t0})
	v := m.View(80, 22)
	if !strings.Contains(v, "3/3  Downtime") || strings.Contains(v, "/4") || strings.Contains(v, "/5") || !strings.Contains(v, "downtime 10.45s (step downtime)") {
		t.Fatalf("the final page does not land on the last step that ran, with the downtime:\n%s", v)
	}
	press := func(code rune, text string) string {
		m.Update(tea.KeyPressMsg{Code: code, Text: text})
		return m.View(80, 22)
	}
	if v := press(tea.KeyUp, ""); !strings.Contains(v, "2/3  Cut over") || !strings.Contains(v, "row counts equal") {
		t.Fatalf("↑ did not move to the step before, with its output:\n%s", v)
	}
	if v := press('k', "k"); !strings.Contains(v, "1/3  Wait for the copy") || !strings.Contains(v, "every table synced") {
		t.Fatalf("k did not move up:\n%s", v)
	}
	if v := press('j', "j"); !strings.Contains(v, "2/3  Cut over") {
		t.Fatalf("j did not move down:\n%s", v)
	}
	if v := press('g', "g"); !strings.Contains(v, "1/3  Wait for the copy") {
		t.Fatalf("g did not go to the first step:\n%s", v)
	}
	if v := press('G', "G"); !strings.Contains(v, "3/3  Downtime") {
		t.Fatalf("G did not go back to the run's step:\n%s", v)
	}
}

// The timeline (t) at 80 columns draws the time a dead runner left in a step with its own glyph,
// named in the legend, not as work.
func TestTimelineDrawsTheDeadRunnersGap(t *testing.T) {
	m, _ := page(true)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	m.Apply(events.Event{Type: events.RunStarted, Time: at(0), Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: []events.StepInfo{
		{ID: "sync", Title: "Wait for the copy", Kind: "wait"}, {ID: "cutover", Title: "Cut over"}}}},
		events.Event{Type: events.StepChecking, Step: "sync", Time: at(0)},
		events.Event{Type: events.StepApplying, Step: "sync", Time: at(1)},
		events.Event{Type: events.OutputLine, Step: "sync", Time: at(3), Line: &events.Line{Stream: "info", Text: "still waiting"}},
		events.Event{Type: events.RunResumed, Time: at(27)},
		events.Event{Type: events.StepChecking, Step: "sync", Time: at(27)},
		events.Event{Type: events.StepVerified, Step: "sync", Time: at(29)},
		events.Event{Type: events.StepChecking, Step: "cutover", Time: at(29)},
		events.Event{Type: events.StepVerified, Step: "cutover", Time: at(30)},
		events.Event{Type: events.RunFinished, Status: events.Succeeded, Time: at(30)})
	m.Update(tea.KeyPressMsg{Code: 't', Text: "t"})
	v := ansi.Strip(m.View(80, 20))
	var row string
	for _, l := range strings.Split(v, "\n") {
		if strings.Contains(l, "Wait for the copy") {
			row = l
		}
	}
	if !strings.Contains(row, "××××") || strings.Count(row, "█")+strings.Count(row, "▒") > 20 || !strings.Contains(v, "× runner dead") {
		t.Fatalf("the timeline draws the dead runner's time as work, or does not name it:\n%s", v)
	}
}
