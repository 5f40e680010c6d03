package runner

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Phases a step can be in when the runner is stopped (the Phase of a step.interrupted record).
const (
	phaseCheck    = "check"
	phaseConfirm  = "confirm" // waiting for a confirmation, an approval or a go/no-go
	phaseApply    = "apply"
	phaseVerify   = "verify"
	phaseRollback = "rollback"
	phaseDecide   = "decision" // failed, waiting for a decision
	phaseObserve  = "observe"  // reading the outputs of a step done earlier
)

// progress is how far a step key got, as the runner keeps it (replayed from the journal on resume).
type progress int

// Step progress.
const (
	notStarted  progress = iota
	applying             // step.applying seen: in flight, or stopped mid-apply
	applied              // step.applied seen, not yet verified
	verified             // done: never repeated
	skippedStep          // skipped (condition false, or the engineer's choice)
	rolledBack           // walked back by this run
	failedStep           // failed before it applied anything
)

// settled: a resume goes past the step.
func (p progress) settled() bool { return p == verified || p == skippedStep }

// inflight is where the runner is: a step key and its phase, or nothing between steps.
type inflight struct {
	key, phase string
	// after is the last step key that was in flight, so "between steps" can say where.
	after string
}

// at records where the runner is, for the record an interruption leaves.
func (r *Runner) at(key, phase string) {
	if r.where.key != "" && r.where.key != key {
		r.where.after = r.where.key
	}
	r.where.key, r.where.phase = key, phase
}

// doing says in words what a step in a phase was doing.
func doing(phase string) string {
	switch phase {
	case phaseCheck:
		return "being checked"
	case phaseConfirm:
		return "waiting for a confirmation or an approval (it had not started)"
	case phaseApply:
		return "applying"
	case phaseVerify:
		return "being verified"
	case phaseRollback:
		return "rolling back"
	case phaseDecide:
		return "waiting for a decision after it failed"
	case phaseObserve:
		return "having its outputs read again"
	}
	return "in flight"
}

// interrupted journals how the runner was stopped: the step in flight (step.interrupted, which a
// resume reads as "check it first") and the note run.finished carries. cause is why ctx ended.
func (r *Runner) interrupted(cause error) string {
	why := "the runner was stopped"
	if cause != nil && cause != context.Canceled {
		why += " (" + cause.Error() + ")"
	}
	next := fmt.Sprintf("`cairn resume %s` continues: verified steps are not repeated", r.cfg.Run.ID)
	if k := r.where.key; k != "" {
		note := fmt.Sprintf("%s while %s was %s", why, k, doing(r.where.phase))
		r.emit(events.Event{Type: events.StepInterrupted, Step: k, Phase: r.where.phase,
			Note: note + "; a resume checks it first and applies it at most once more"})
		return note + "; " + next
	}
	if r.where.after != "" {
		return fmt.Sprintf("%s between steps, after %s; %s", why, r.where.after, next)
	}
	return fmt.Sprintf("%s before its first step; %s", why, next)
}
