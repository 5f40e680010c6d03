package run

// Folding the runner's records into the page: the run state, the timeline, each step's output.

import (
	"github.com/cairn-runbooks/cairn/internal/events"
)

// Apply folds records into the page (Update does this for EventsMsg; tests and benchmarks may call it).
func (m *Model) Apply(evs ...events.Event) {
	for _, e := range evs {
		m.rs.Apply(e)
		if e.Type == events.QuestionAsked || e.Type == events.RunFinished || e.Type == events.RunnerGone {
			m.follow() // the question is the run's step's; an ended run shows the last step that ran
		}
		m.timeline.Apply(e)
		if e.Type == events.OutputLine && e.Line != nil {
			m.out.add(e.Step, e.Line.Text)
		}
		if e.Type == events.RunStarted && e.Run != nil {
			m.notes.reset()
			if m.timingsFn != nil && m.cfg.Timings == nil {
				m.cfg.Timings = m.timingsFn(e.Run.Runbook)
			}
			if m.twinFn != nil {
				m.timeline.SetRehearsal(m.twinFn(*e.Run, e.Time))
			}
		}
	}
	m.showFocus()
	m.syncPrompt()
}
