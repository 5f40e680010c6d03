package events

// RunStatus is how a run ended, as its run.finished record says. The zero value means the run has
// not ended (it is going, or its runner died without a word: `cairn runs` says which).
type RunStatus string

// Run statuses. These are the only values a run.finished record carries.
const (
	// Succeeded: every step was verified (or skipped by its condition or the engineer's choice, which
	// the finish note names).
	Succeeded RunStatus = "succeeded"
	// Failed: the run stopped on a failed step, or a rollback failed; nothing more was undone.
	Failed RunStatus = "failed"
	// Aborted: a person, a policy or a refused approval stopped the run; nothing more was undone.
	Aborted RunStatus = "aborted"
	// RolledBack: the run was walked back (or cut back) after a failure or on request.
	RolledBack RunStatus = "rolled-back"
	// Interrupted: the runner was stopped (SIGTERM, SIGINT, a take-over, a shutdown) before the run
	// ended. The step in flight, if any, is named by a step.interrupted record; `cairn resume`
	// checks it first and never repeats a verified step. Never a success.
	Interrupted RunStatus = "interrupted"
)

// Ended reports whether the status is a final one (not the zero value).
func (s RunStatus) Ended() bool { return s != "" }

// Resumable reports whether `cairn resume` has something left to do after a run ended this way.
func (s RunStatus) Resumable() bool {
	switch s {
	case Succeeded, RolledBack:
		return false
	}
	return true
}
