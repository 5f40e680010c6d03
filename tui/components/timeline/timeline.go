// Package timeline is the Run screen's timeline: the run's steps as bars on one time axis, the
// rehearsal's bars under them, the window's end as a line. It folds the records the page receives
// (internal/timeline does the folding and the drawing) and draws them up to now while the run goes on.
package timeline

import (
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	tl "github.com/cairn-runbooks/cairn/internal/timeline"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// Model is the timeline of one run and the rehearsal it is compared with.
type Model struct {
	c      *common.Common
	run    *tl.Timeline
	before *tl.Timeline
}

// New returns an empty timeline.
func New(c *common.Common) *Model { return &Model{c: c, run: tl.New()} }

// Apply folds a record of the run.
func (m *Model) Apply(e events.Event) { m.run.Apply(e) }

// SetRehearsal sets the records of the rehearsal the run is compared with (nil: none).
func (m *Model) SetRehearsal(recs []events.Event) {
	m.before = nil
	if len(recs) > 0 {
		m.before = tl.Build(recs)
	}
}

// View draws the timeline in w×h, keeping the step focus (an id, "" = the last one started) in view.
func (m *Model) View(w, h int, focus string) string {
	s := m.c.Styles
	paint := func(st lipgloss.Style) func(string) string { return func(x string) string { return st.Render(x) } }
	lines := tl.Chart(m.run.At(m.c.Now()), m.before, w, h, focus, tl.Style{
		Axis: paint(s.Subtle), Rehearsal: paint(s.TimelineRehearsal), Window: paint(s.TimelineWindow), Late: paint(s.Warning),
		Mark: func(mk tl.Mark, failed bool, x string) string {
			switch {
			case failed && mk != tl.Prompt:
				return s.Failure.Render(x)
			case mk == tl.Prompt:
				return s.TimelinePrompt.Render(x)
			case mk == tl.Wait:
				return s.TimelineWait.Render(x)
			case mk == tl.Dead:
				return s.Warning.Render(x) // no runner: not work, not a failure of the step
			}
			return s.TimelineWork.Render(x)
		},
	})
	return strings.Join(lines, "\n")
}
