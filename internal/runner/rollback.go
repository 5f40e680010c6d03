package runner

import (
	"context"
	"errors"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// rollbackAll walks back the steps this run applied, newest first, each confirmed — what the
// failure menu's "Roll back" promised — the step whose apply started and did not end verified
// included (partially applied: its Rollback undoes what of it exists). `cairn rollback` of a run
// past a step marked point_of_no_return runs the runbook's cut-back instead: undoing step by step
// cannot bring back what that step changed.
func (r *Runner) rollbackAll(ctx context.Context, why string) events.RunStatus {
	if past := r.pastNoReturn(); r.cfg.Mode == ModeRollback && past != "" && len(r.cutbackOnPath()) > 0 {
		return r.cutback(ctx, why+" ("+past+" is past the point of no return: the runbook's cut-back, not a step-by-step undo)")
	}
	undo := r.undoable()
	if len(undo) == 0 {
		r.emit(events.Event{Type: events.Note, Note: "nothing to roll back " + why + ": no step of this run changed anything"})
		return events.RolledBack
	}
	r.emit(events.Event{Type: events.Note, Note: "rolling back " + why + ": " + labels(undo)})
	for _, u := range undo {
		if status := r.undoOne(ctx, u); status != "" {
			return status
		}
	}
	return events.RolledBack
}

// undoOne confirms and rolls back one step; "" when it is undone (or cannot be, said so) and the
// walk goes on, else the status the walk stops with.
func (r *Runner) undoOne(ctx context.Context, u undoStep) events.RunStatus {
	key := u.key
	spec := r.specOf(key)
	if spec == nil {
		return ""
	}
	q := events.Question{Kind: events.AskConfirm, Purpose: events.PurposeUndoStep, Step: key, Prompt: "Roll back " + key + " (" + spec.Title + ")?"}
	note := ""
	if u.partial {
		q.Prompt = "Roll back " + key + " (" + spec.Title + "), partially applied?"
		q.Detail = "its apply started and did not end verified: its rollback undoes what of it exists"
		note = "partially applied: what of it existed is undone"
	}
	r.at(key, phaseConfirm)
	a, err := r.ask(ctx, q)
	if err != nil {
		return r.stopStatus(ctx, events.Failed)
	}
	if !a.Yes {
		r.emit(events.Event{Type: events.Note, Step: key, Note: "rollback of " + key + " declined: stopping the rollback here"})
		return events.Failed
	}
	env := r.baseEnv(ctx, key)
	r.at(key, phaseRollback)
	r.emit(events.Event{Type: events.StepRollingBack, Step: key, Note: note})
	err = spec.Step.Rollback(ctx, env)
	if err != nil && ctx.Err() != nil {
		return events.Interrupted
	}
	switch {
	case steps.IsNotReversible(err):
		r.emit(events.Event{Type: events.Note, Step: key, Note: r.red.String(err.Error()) + "; left as it is"})
		r.emit(events.Event{Type: events.StepRolledBack, Step: key, Note: "not reversible: left in place"})
	case err != nil:
		fix := "fix the cause,"
		if f := steps.FixOf(err); f != "" {
			fix = f + ";"
		}
		r.emit(events.Event{Type: events.StepRollbackFailed, Step: key, Phase: phaseRollback, Error: r.diag("rollback of "+key+" failed", err, fix+" then `cairn rollback "+r.cfg.Run.ID+"` to continue walking back")})
		return events.Failed
	default:
		r.emit(events.Event{Type: events.StepRolledBack, Step: key, Note: note})
	}
	r.status[key] = rolledBack
	r.done = remove(r.done, key)
	delete(r.partial, key)
	return ""
}

// cutback runs the runbook's own cut-back steps (e.g. restore the source from its snapshot).
func (r *Runner) cutback(ctx context.Context, why string) events.RunStatus {
	r.emit(events.Event{Type: events.Note, Note: "cutting back " + why})
	for _, spec := range r.cfg.Runbook.Cutback {
		env := r.baseEnv(ctx, spec.ID)
		if ok, err := spec.When.Eval(env.Lookup); err == nil && !ok {
			r.emit(events.Event{Type: events.StepSkipped, Step: spec.ID, Note: "condition " + spec.When.Raw + " is false"})
			continue
		} else if err != nil && !errors.Is(err, ref.ErrUnknown) {
			r.emit(events.Event{Type: events.StepSkipped, Step: spec.ID, Note: err.Error()})
			continue
		}
		if status := r.runOne(ctx, spec, spec.ID); status != "" {
			return status
		}
	}
	return events.RolledBack
}

// pastNoReturn is the first step this run applied that the runbook marks point_of_no_return, or "".
func (r *Runner) pastNoReturn() string {
	for _, key := range r.done {
		if spec := r.specOf(key); spec != nil && spec.PointOfNoReturn {
			return key
		}
	}
	return ""
}

// cutbackOnPath is the runbook's cut-back steps whose condition holds for this run (or cannot be
// told yet): the ones a cut-back would run.
func (r *Runner) cutbackOnPath() []*runbooks.StepSpec {
	var out []*runbooks.StepSpec
	for _, spec := range r.cfg.Runbook.Cutback {
		if ok, err := spec.When.Eval(r.lookup("")); ok || errors.Is(err, ref.ErrUnknown) {
			out = append(out, spec)
		}
	}
	return out
}

func (r *Runner) specOf(key string) *runbooks.StepSpec {
	id, _ := events.BaseID(key)
	for _, s := range r.cfg.Runbook.Steps {
		if s.ID == id {
			return s
		}
	}
	for _, s := range r.cfg.Runbook.Cutback {
		if s.ID == id {
			return s
		}
	}
	return nil
}
