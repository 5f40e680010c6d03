package rollback

import (
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// beyondReturn is why a rollback of this run would undo its outcome rather than a failure — the
// run succeeded past its point of no return, or applied a destructive step after that point (e.g.
// the old instance deleted) — naming the step; "" when a rollback only walks back a run that
// did not get there.
func beyondReturn(rb *runbooks.Runbook, st *events.RunState) string {
	done := func(id string) bool { s := st.Step(id); return s != nil && s.Status == events.StatusDone }
	noReturn, last := "", ""
	for _, s := range rb.Steps {
		if !done(s.ID) {
			continue
		}
		if s.PointOfNoReturn && noReturn == "" {
			noReturn = s.ID
		}
		if noReturn != "" && noReturn != s.ID && s.Destructive { // the point itself is what the cut-back undoes
			last = s.ID
		}
	}
	switch {
	case last != "":
		return fmt.Sprintf("it applied %s (destructive, past its point of no return %s): what that step destroyed does not come back by a cut-back", last, noReturn)
	case noReturn != "" && st.Status == events.Succeeded:
		return fmt.Sprintf("it succeeded, past its point of no return %s: its result is what serves now", noReturn)
	}
	return ""
}

// refuseAfterSuccess is the error of `cairn rollback` on a run beyond its point of no return
// without --after-success: nothing was started, nothing changed.
func refuseAfterSuccess(runID, why string) error {
	return &exitcode.Err{Code: exitcode.Usage, Err: diag.Diagnostic{
		Summary: "run " + runID + " is not rolled back: " + why,
		Detail:  "a rollback now would take down what the run built and serves; nothing was started, nothing changed",
		Next:    "keep the result (`cairn show " + runID + "` says what it left); to undo it, start the runbook's reverse as a new run, or — knowing the cut-back deletes what serves now — `cairn rollback " + runID + " --after-success` (each deletion of an instance that served asks its identifier typed, which --yes never answers)",
	}}
}
