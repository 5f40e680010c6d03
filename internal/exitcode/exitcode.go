// Package exitcode holds every exit status cairn uses, in one place; only main exits.
package exitcode

import "github.com/cairn-runbooks/cairn/internal/events"

// Exit statuses, documented in README.md.
const (
	OK          = 0 // the command did what was asked; a run succeeded
	Error       = 1 // something went wrong before or outside a run (bad input, I/O)
	Usage       = 2 // wrong flags or arguments
	RunFailed   = 3 // the run stopped on a failed step (nothing rolled back); resume or roll back
	Aborted     = 4 // the run was aborted by a person or a policy
	RolledBack  = 5 // the run failed and was rolled back (or cut back)
	Detached    = 6 // the view left; the run goes on in the background (`cairn attach <id>`)
	Locked      = 7 // another runner holds the run
	Interrupted = 8 // the runner was stopped (signal, take-over, shutdown) before the run ended; `cairn resume` continues
	Blocked     = 9 // `cairn plan --check`: a step on this path is blocked as things stand (cannot tell alone is 0)
)

// Err carries an exit status with an error.
type Err struct {
	Code int
	Err  error
}

func (e *Err) Error() string {
	if e.Err == nil {
		return ""
	}
	return e.Err.Error()
}

func (e *Err) Unwrap() error { return e.Err }

// ForStatus maps a run's final status to an exit status.
func ForStatus(status events.RunStatus) int {
	switch status {
	case events.Succeeded:
		return OK
	case events.Aborted:
		return Aborted
	case events.RolledBack:
		return RolledBack
	case events.Interrupted:
		return Interrupted
	case "":
		return Detached
	}
	return RunFailed
}
