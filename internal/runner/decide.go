package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// failed is the failure as the engineer reads it: the check's own diagnostic, summed up as this
// step blocked or failed in a phase, with the run's state. What to do next is the fix the error
// carries (a *steps.FixError from Apply, Verify or Rollback), else the check's.
func (r *Runner) failed(key string, ch steps.Check, f *failure) *events.Diag {
	d := ch.Diagnostic("")
	d.Summary, d.Detail = fmt.Sprintf("step %s failed in %s", key, f.phase), f.err.Error()
	if fix := steps.FixOf(f.err); fix != "" {
		d.Next = fix
	}
	if ch.State == steps.Blocked {
		d.Summary = fmt.Sprintf("step %s is blocked: %s", key, ch.Reason)
	}
	return r.stated(d)
}

// afterFailure asks what to do about a failed step and does it. retry says to check the step
// again; otherwise status is the run's final status, or "" to go on with the next step.
func (r *Runner) afterFailure(ctx context.Context, a *attempt, d *events.Diag) (retry bool, status events.RunStatus) {
	r.at(a.key, phaseDecide)
	switch choice := r.decide(ctx, a.spec, a.key, d); choice {
	case events.Retry:
		a.interrupted = false
		return true, ""
	case events.Skip:
		r.emit(events.Event{Type: events.StepSkipped, Step: a.key, Note: "skipped by the engineer after a failure"})
		r.status[a.key] = skippedStep
		r.skipped = append(r.skipped, a.key)
		return false, ""
	case events.Rollback:
		return false, r.rollbackAll(ctx, "after "+a.key+" failed")
	case events.Cutback:
		return false, r.cutback(ctx, "after "+a.key+" failed")
	case "":
		return false, events.Interrupted
	default:
		return false, events.Aborted
	}
}

// decide asks what to do after a failure.
func (r *Runner) decide(ctx context.Context, spec *runbooks.StepSpec, key string, d *events.Diag) events.Decision {
	opts := []events.Option{{Key: events.Retry, Label: "Retry", Effect: "check " + key + " again, then apply it if it is still to do"}}
	cut, rollback := r.undoOptions()
	if cut != nil {
		opts = append(opts, *cut)
	}
	if rollback != nil {
		opts = append(opts, *rollback)
	}
	if spec.AllowSkip {
		opts = append(opts, events.Option{Key: events.Skip, Label: "Skip", Effect: "leave " + key + " undone and go on with the next step"})
	}
	abort := "stop here and leave everything as it is; `cairn resume " + r.cfg.Run.ID + "` or `cairn rollback " + r.cfg.Run.ID + "` later"
	if len(r.undoable()) == 0 {
		abort = "stop here: no step of this run changed anything; fix the cause, then `cairn resume " + r.cfg.Run.ID + "` or start the run again"
	}
	opts = append(opts, events.Option{Key: events.Abort, Label: "Abort", Effect: abort})
	a, err := r.ask(ctx, events.Question{Kind: events.AskDecision, Purpose: events.PurposeFailure, Step: key, Prompt: d.Summary, Detail: d.Detail, Options: opts})
	if err != nil {
		if ctx.Err() != nil {
			return ""
		}
		return events.Abort
	}
	for _, o := range opts {
		if o.Key == a.Choice {
			return a.Choice
		}
	}
	return events.Abort
}

// undoOptions are the ways back a failure menu offers (nil: not offered). Nothing at all when no
// step of this run changed anything — none applied, none started applying (a step that failed in
// its check): fix the cause and retry, or abort. The cut-back, listing only
// its steps on this run's path, when the runbook has one and — in a runbook that marks its point of
// no return — only past it; the step-by-step roll back otherwise.
func (r *Runner) undoOptions() (cut, rollback *events.Option) {
	undo := r.undoable()
	if len(undo) == 0 {
		return nil, nil
	}
	past := r.pastNoReturn()
	if steps := r.cutbackOnPath(); len(steps) > 0 && (past != "" || !r.cfg.Runbook.MarksNoReturn()) {
		effect := "run the runbook's cut-back steps: " + idsOf(steps)
		if past != "" {
			effect += " (" + past + " is past the point of no return: undoing step by step cannot bring back what it changed)"
		}
		cut = &events.Option{Key: events.Cutback, Label: "Cut back", Effect: effect}
	}
	if past == "" || cut == nil {
		rollback = &events.Option{Key: events.Rollback, Label: "Roll back", Effect: "undo " + labels(undo) + ", in that order, each confirmed"}
	}
	return cut, rollback
}

func idsOf(specs []*runbooks.StepSpec) string {
	var ids []string
	for _, s := range specs {
		ids = append(ids, s.ID)
	}
	return joinList(ids)
}

func joinList(xs []string) string { return strings.Join(xs, ", ") }
