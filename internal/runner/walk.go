package runner

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// runSteps walks the runbook's steps and returns the final status ("" if ctx ended first).
func (r *Runner) runSteps(ctx context.Context) events.RunStatus {
	for _, spec := range r.cfg.Runbook.Steps {
		if st := r.status[spec.ID]; st.settled() {
			if r.lostSecrets[spec.ID] {
				// a resumed run: this step's secret outputs were never journaled; read them again
				r.at(spec.ID, phaseObserve)
				if err := r.observe(ctx, spec, spec.ID, r.baseEnv(ctx, spec.ID)); err != nil {
					if ctx.Err() != nil {
						return events.Interrupted
					}
					r.emit(events.Event{Type: events.StepFailed, Step: spec.ID, Phase: phaseApply, Error: r.diag("cannot recover the secret outputs of "+spec.ID+" for the steps after it", err, "")})
					return events.Failed
				}
			}
			continue
		}
		r.at("", "")
		if status, stop := r.between(ctx); stop {
			return status
		}
		env := r.baseEnv(ctx, spec.ID)
		ok, err := spec.When.Eval(env.Lookup)
		if err != nil {
			r.emit(events.Event{Type: events.StepFailed, Step: spec.ID, Phase: phaseCheck, Error: r.diag("condition "+spec.When.Raw+" cannot be evaluated", err, "fix the runbook, then `cairn resume "+r.cfg.Run.ID+"`")})
			return events.Failed
		}
		if !ok {
			r.emit(events.Event{Type: events.StepSkipped, Step: spec.ID, Note: "condition " + spec.When.Raw + " is false"})
			continue
		}
		keys := []string{spec.ID}
		if !spec.Foreach.IsZero() {
			v, ok := env.Lookup(spec.Foreach.Refs()[0])
			if !ok || v.Unknown {
				r.emit(events.Event{Type: events.StepFailed, Step: spec.ID, Phase: phaseCheck, Error: r.diag("foreach "+spec.Foreach.Raw+" has no value", nil, "the step that produces it must run first")})
				return events.Failed
			}
			keys = nil
			for _, it := range v.List {
				keys = append(keys, spec.ID+"["+it+"]")
			}
		}
		for _, key := range keys {
			if st := r.status[key]; st.settled() {
				continue
			}
			if status := r.runOne(ctx, spec, key); status != "" {
				return status
			}
		}
		if !spec.Foreach.IsZero() {
			r.emit(events.Event{Type: events.StepVerified, Step: spec.ID, Note: fmt.Sprintf("all %d items done", len(keys))})
			r.status[spec.ID] = verified
		}
	}
	return events.Succeeded
}

// between handles the inbox (notes, pause requests) before a step.
func (r *Runner) between(ctx context.Context) (events.RunStatus, bool) {
	if ctx.Err() != nil {
		return events.Interrupted, true
	}
	for _, it := range r.takeInbox() {
		if it.Kind == journal.AskPause {
			r.emit(events.Event{Type: events.RunPaused, Actor: it.By, Note: "paused before the next step"})
			a, err := r.ask(ctx, events.Question{Kind: events.AskConfirm, Purpose: events.PurposeResume, Prompt: "Paused by " + it.By.String() + ". Continue with the next step?"})
			if err != nil || !a.Yes {
				return r.stopStatus(ctx, events.Aborted), true
			}
		}
	}
	return "", false
}

// runOne takes one step (or one foreach item) through check → confirm → apply → verify, asking for
// a decision on failure. It returns "" to go on, or a final status — Interrupted as soon as it sees
// ctx end, whatever phase it is in (r.inflight says which).
func (r *Runner) runOne(ctx context.Context, spec *runbooks.StepSpec, key string) events.RunStatus {
	a := &attempt{spec: spec, key: key, interrupted: r.status[key] == applying || r.status[key] == applied}
	for {
		env := r.baseEnv(ctx, key)
		if ctx.Err() != nil {
			return events.Interrupted
		}
		ch := r.check(ctx, a, env)
		if ctx.Err() != nil {
			return events.Interrupted
		}
		f, stop := r.act(ctx, a, env, ch)
		if stop != "" {
			return stop
		}
		if f == nil {
			return ""
		}
		if ctx.Err() != nil {
			return events.Interrupted
		}
		d := r.failed(a.key, ch, f)
		r.emit(events.Event{Type: events.StepFailed, Step: a.key, Phase: f.phase, Error: d, Unchanged: f.unchanged()})
		if retry, status := r.afterFailure(ctx, a, d); !retry {
			return status
		}
	}
}

// attempt is one step key on its way through its phases, across retries.
type attempt struct {
	spec *runbooks.StepSpec
	key  string
	// interrupted: an earlier runner stopped while applying or verifying this step; its check
	// decides whether the apply finished, and it is applied at most once more.
	interrupted bool
	// confirmed: the engineer confirmed (and approved) applying it; a retry does not ask again.
	confirmed bool
}
