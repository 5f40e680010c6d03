package runner

import (
	"fmt"

	"github.com/cairn-runbooks/cairn/runbooks"
)

// windowLeftOpen is the finish note's warning when the run ends inside its runbook's window — the
// step that opens it (the quiesce) applied, or stopped while applying, and not rolled back, and a
// step of the window not yet done — "" otherwise. The application is still stopped then, whatever
// the status says, and the engineer must be told so, with the commands that end it.
func (r *Runner) windowLeftOpen() string {
	rb := r.cfg.Runbook
	if rb.Window == nil {
		return ""
	}
	switch r.status[rb.Window.From] {
	case applying, applied, verified:
	default:
		return ""
	}
	for _, s := range rb.Steps {
		if rb.PhaseOf(s.ID) == runbooks.PhaseWindow && !r.status[s.ID].settled() {
			id := r.cfg.Run.ID
			return fmt.Sprintf("THE APPLICATION IS STILL STOPPED: the window opened at %s and has not ended (%s is not done) — `cairn rollback %s` undoes the run and lets the application in again, `cairn resume %s` goes on to the end of the window",
				rb.Window.From, s.ID, id, id)
		}
	}
	return ""
}
