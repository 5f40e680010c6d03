package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/redact"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
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
	// an earlier runner stopped while applying or verifying this step: its check decides whether the
	// apply finished; it is applied at most once more
	interrupted := r.status[key] == applying || r.status[key] == applied
	confirmed := false
	for {
		env := r.baseEnv(ctx, key)
		if ctx.Err() != nil {
			return events.Interrupted
		}
		r.at(key, phaseCheck)
		r.emit(events.Event{Type: events.StepChecking, Step: key})
		ch := spec.Step.Check(ctx, env)
		r.emit(events.Event{Type: events.StepChecked, Step: key, Check: &events.CheckInfo{State: string(ch.State), Change: string(ch.Change), Reason: ch.Reason, Fix: ch.Fix}})
		if ctx.Err() != nil {
			return events.Interrupted
		}
		var failErr error
		phase := phaseCheck
		switch ch.State {
		case steps.Blocked:
			failErr = fmt.Errorf("%s", ch.Reason)
		case steps.Done:
			if interrupted {
				r.emit(events.Event{Type: events.Note, Step: key, Note: "the interrupted apply had finished its work: not repeated"})
			}
			if err := r.observe(ctx, spec, key, env); err != nil {
				failErr, phase = err, phaseApply
				break
			}
			if err := r.verify(ctx, spec, key, env, interrupted); err != nil {
				failErr, phase = err, phaseVerify
				break
			}
			return ""
		default:
			if interrupted && ch.State == steps.Unknown {
				r.emit(events.Event{Type: events.Note, Step: key, Note: "interrupted while applying and its check cannot tell: rolling the step back to a clean state before applying again"})
				r.at(key, phaseRollback)
				if err := spec.Step.Rollback(ctx, env); err != nil && !steps.IsNotReversible(err) {
					failErr, phase = err, phaseRollback
					break
				}
			}
			if !confirmed {
				r.at(key, phaseConfirm)
				ok, status := r.confirm(ctx, spec, key)
				if !ok {
					return status
				}
				confirmed = true
			}
			failErr, phase = r.apply(ctx, spec, key, env), phaseApply
			if failErr == nil {
				if err := r.verify(ctx, spec, key, env, true); err != nil {
					failErr, phase = err, phaseVerify
				}
			}
			if failErr == nil {
				return ""
			}
		}
		if ctx.Err() != nil {
			return events.Interrupted
		}
		summary := fmt.Sprintf("step %s failed in %s", key, phase)
		if ch.State == steps.Blocked {
			summary = fmt.Sprintf("step %s is blocked: %s", key, ch.Reason)
		}
		d := r.diag(summary, failErr, "")
		if ch.Fix != "" {
			d.Next = ch.Fix
		}
		r.emit(events.Event{Type: events.StepFailed, Step: key, Phase: phase, Error: d})
		r.at(key, phaseDecide)
		switch choice := r.decide(ctx, spec, key, d); choice {
		case events.Retry:
			interrupted = false
			continue
		case events.Skip:
			r.emit(events.Event{Type: events.StepSkipped, Step: key, Note: "skipped by the engineer after a failure"})
			r.status[key] = skippedStep
			r.skipped = append(r.skipped, key)
			return ""
		case events.Rollback:
			return r.rollbackAll(ctx, "after "+key+" failed")
		case events.Cutback:
			return r.cutback(ctx, "after "+key+" failed")
		case "":
			return events.Interrupted
		default:
			return events.Aborted
		}
	}
}

// apply runs the step's Apply under its timeout and records its outputs.
func (r *Runner) apply(ctx context.Context, spec *runbooks.StepSpec, key string, env *steps.Env) error {
	r.at(key, phaseApply)
	r.emit(events.Event{Type: events.StepApplying, Step: key})
	r.status[key] = applying
	actx := ctx
	if spec.Timeout > 0 {
		var cancel context.CancelFunc
		actx, cancel = context.WithTimeout(ctx, spec.Timeout.Std())
		defer cancel()
	}
	start := time.Now()
	outs, err := spec.Step.Apply(actx, env)
	if err != nil {
		if actx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
			err = fmt.Errorf("timed out after %s: %w", spec.Timeout.Std(), err)
		}
		return err
	}
	r.recordOutputs(key, outs, time.Since(start))
	return nil
}

func (r *Runner) recordOutputs(key string, outs steps.Outputs, took time.Duration) {
	shown := map[string]string{}
	r.mu.Lock()
	if outs == nil {
		outs = steps.Outputs{}
	}
	r.outputs[key] = outs
	r.mu.Unlock()
	for k, v := range outs {
		switch {
		case v.Secret:
			r.red.Add(v.Value)
			shown[k] = redact.Mask
		case v.List != nil:
			shown[k] = joinList(v.List)
		default:
			shown[k] = v.Value
		}
	}
	r.emit(events.Event{Type: events.StepApplied, Step: key, Outputs: shown, Elapsed: took})
	r.status[key] = applied
}

// observe fills the outputs of a step found already done, from the target, so later steps can use them.
func (r *Runner) observe(ctx context.Context, spec *runbooks.StepSpec, key string, env *steps.Env) error {
	if _, have := r.outputs[key]; have && !r.lostSecrets[key] {
		return nil
	}
	if ob, ok := spec.Step.(steps.Observer); ok {
		outs, err := ob.Observe(ctx, env)
		if err != nil {
			return fmt.Errorf("read the outputs of the step already done: %w", err)
		}
		r.recordOutputs(key, outs, 0)
		delete(r.lostSecrets, key)
	}
	return nil
}

func (r *Runner) verify(ctx context.Context, spec *runbooks.StepSpec, key string, env *steps.Env, ours bool) error {
	r.at(key, phaseVerify)
	r.emit(events.Event{Type: events.StepVerifying, Step: key})
	start := time.Now()
	if err := spec.Step.Verify(ctx, env); err != nil {
		return err
	}
	note := ""
	if !ours {
		note = alreadyDone
	} else {
		r.done = appendOnce(r.done, key)
	}
	r.emit(events.Event{Type: events.StepVerified, Step: key, Elapsed: time.Since(start), Note: note})
	r.status[key] = verified
	return nil
}

// confirm asks what the step's confirmation and approvals require. ok false means do not apply;
// status is then the run's final status.
func (r *Runner) confirm(ctx context.Context, spec *runbooks.StepSpec, key string) (bool, events.RunStatus) {
	if spec.Destructive && !r.goAsked {
		r.goAsked = true
		if ok, status := r.goNoGo(ctx, spec, key); !ok {
			return false, status
		}
	}
	approvals := spec.Approvals
	if approvals == 0 && spec.Destructive && r.cfg.Meta.Approvals > 1 {
		approvals = r.cfg.Meta.Approvals
	}
	if approvals > 1 {
		a, err := r.ask(ctx, events.Question{Kind: events.AskApproval, Purpose: events.PurposeApproval, Step: key,
			Prompt:    fmt.Sprintf("Step %s needs %d approvals: the engineer who started the run and %d other", key, approvals, approvals-1),
			Detail:    "another engineer runs `cairn approve " + r.cfg.Run.ID + "` in their own terminal",
			Approvals: approvals - 1, Starter: r.cfg.Meta.StartedBy})
		if err != nil || a.Choice != events.Approve {
			return false, r.stopStatus(ctx, events.Aborted)
		}
	}
	switch spec.Confirm {
	case runbooks.ConfirmYes:
		if cl, ok := spec.Step.(checklister); ok {
			if items := cl.Checklist(r.baseEnv(ctx, key)); len(items) > 0 {
				// one prompt: the checklist is the confirmation
				a, err := r.ask(ctx, events.Question{Kind: events.AskChecklist, Purpose: events.PurposeApply, Step: key,
					Prompt: "Apply " + spec.Title + "? Tick each item when it is done", Detail: destructiveNote(spec), Items: items})
				if err != nil || !a.Yes {
					return false, r.stopStatus(ctx, events.Aborted)
				}
				r.mu.Lock()
				if r.ticked == nil {
					r.ticked = map[string]events.Answer{}
				}
				r.ticked[key] = a
				r.mu.Unlock()
				break
			}
		}
		a, err := r.ask(ctx, events.Question{Kind: events.AskConfirm, Purpose: events.PurposeApply, Step: key, Prompt: "Apply " + spec.Title + "?", Detail: destructiveNote(spec)})
		if err != nil || !a.Yes {
			return false, r.stopStatus(ctx, events.Aborted)
		}
	case runbooks.ConfirmTyped:
		want, err := r.baseEnv(ctx, key).Text(spec.ConfirmWith)
		if err != nil {
			r.emit(events.Event{Type: events.StepFailed, Step: key, Phase: phaseCheck, Error: r.diag("cannot work out the confirmation value", err, "")})
			return false, events.Failed
		}
		a, err := r.ask(ctx, events.Question{Kind: events.AskTyped, Purpose: events.PurposeApply, Step: key, Prompt: "Type " + want + " to " + spec.Title, Detail: destructiveNote(spec), Expect: want})
		if err != nil || a.Value != want {
			return false, r.stopStatus(ctx, events.Aborted)
		}
	}
	return true, ""
}

// checklister is a step whose apply is a checklist a person ticks (generic.Manual).
type checklister interface {
	Checklist(env *steps.Env) []string
}

// stopStatus is s, or Interrupted when the stop came from ctx ending (a question cut short).
func (r *Runner) stopStatus(ctx context.Context, s events.RunStatus) events.RunStatus {
	if ctx.Err() != nil {
		return events.Interrupted
	}
	return s
}

func destructiveNote(spec *runbooks.StepSpec) string {
	if spec.Destructive {
		return "This step is destructive."
	}
	return ""
}

// decide asks what to do after a failure.
func (r *Runner) decide(ctx context.Context, spec *runbooks.StepSpec, key string, d *events.Diag) events.Decision {
	opts := []events.Option{{Key: events.Retry, Label: "Retry", Effect: "check " + key + " again, then apply it if it is still to do"}}
	if len(r.cfg.Runbook.Cutback) > 0 {
		opts = append(opts, events.Option{Key: events.Cutback, Label: "Cut back", Effect: "run the runbook's cut-back steps: " + idsOf(r.cfg.Runbook.Cutback)})
	}
	if len(r.done) > 0 {
		opts = append(opts, events.Option{Key: events.Rollback, Label: "Roll back", Effect: "undo " + reverseList(r.done) + ", in that order, each confirmed"})
	}
	if spec.AllowSkip {
		opts = append(opts, events.Option{Key: events.Skip, Label: "Skip", Effect: "leave " + key + " undone and go on with the next step"})
	}
	opts = append(opts, events.Option{Key: events.Abort, Label: "Abort", Effect: "stop here and leave everything as it is; `cairn resume " + r.cfg.Run.ID + "` or `cairn rollback " + r.cfg.Run.ID + "` later"})
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

func idsOf(specs []*runbooks.StepSpec) string {
	var ids []string
	for _, s := range specs {
		ids = append(ids, s.ID)
	}
	return joinList(ids)
}

func reverseList(xs []string) string {
	var out []string
	for i := len(xs) - 1; i >= 0; i-- {
		out = append(out, xs[i])
	}
	return joinList(out)
}

func joinList(xs []string) string {
	s := ""
	for i, x := range xs {
		if i > 0 {
			s += ", "
		}
		s += x
	}
	return s
}

// rollbackAll walks back the steps this run applied, newest first, each confirmed.
func (r *Runner) rollbackAll(ctx context.Context, why string) events.RunStatus {
	if len(r.cfg.Runbook.Cutback) > 0 && r.cfg.Mode == ModeRollback {
		return r.cutback(ctx, why)
	}
	r.emit(events.Event{Type: events.Note, Note: "rolling back " + why + ": " + reverseList(r.done)})
	for i := len(r.done) - 1; i >= 0; i-- {
		key := r.done[i]
		spec := r.specOf(key)
		if spec == nil {
			continue
		}
		r.at(key, phaseConfirm)
		a, err := r.ask(ctx, events.Question{Kind: events.AskConfirm, Purpose: events.PurposeUndoStep, Step: key, Prompt: "Roll back " + key + " (" + spec.Title + ")?"})
		if err != nil {
			return r.stopStatus(ctx, events.Failed)
		}
		if !a.Yes {
			r.emit(events.Event{Type: events.Note, Step: key, Note: "rollback of " + key + " declined: stopping the rollback here"})
			return events.Failed
		}
		env := r.baseEnv(ctx, key)
		r.at(key, phaseRollback)
		r.emit(events.Event{Type: events.StepRollingBack, Step: key})
		err = spec.Step.Rollback(ctx, env)
		if err != nil && ctx.Err() != nil {
			return events.Interrupted
		}
		switch {
		case steps.IsNotReversible(err):
			r.emit(events.Event{Type: events.Note, Step: key, Note: r.red.String(err.Error()) + "; left as it is"})
			r.emit(events.Event{Type: events.StepRolledBack, Step: key, Note: "not reversible: left in place"})
		case err != nil:
			r.emit(events.Event{Type: events.StepRollbackFailed, Step: key, Phase: phaseRollback, Error: r.diag("rollback of "+key+" failed", err, "fix the cause, then `cairn rollback "+r.cfg.Run.ID+"` to continue walking back")})
			return events.Failed
		default:
			r.emit(events.Event{Type: events.StepRolledBack, Step: key})
		}
		r.done = r.done[:i]
	}
	return events.RolledBack
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

// goNoGo asks, once, before the first destructive step, whether to go on when the ETA from earlier
// rehearsals passes the maintenance window's end.
func (r *Runner) goNoGo(ctx context.Context, spec *runbooks.StepSpec, key string) (bool, events.RunStatus) {
	end := r.cfg.Meta.WindowEnd
	if end.IsZero() {
		return true, ""
	}
	timings := journal.RehearsalTimings(journal.StateDirOf(r.cfg.Run), r.cfg.Runbook.Name)
	if timings == nil {
		r.emit(events.Event{Type: events.Note, Step: key, Note: "no rehearsal timings for this runbook: cairn cannot say whether the rest fits the window"})
		return true, ""
	}
	var left time.Duration
	counting := false
	for _, s := range r.cfg.Runbook.Steps {
		if s == spec {
			counting = true
		}
		if counting {
			left += timings[s.ID]
		}
	}
	eta := r.cfg.Now().Add(left)
	if !eta.After(end) {
		return true, ""
	}
	a, err := r.ask(ctx, events.Question{Kind: events.AskGoNoGo, Purpose: events.PurposeGoNoGo, Step: key,
		Prompt:  fmt.Sprintf("The rest of the run is expected to end at %s, %s after the window closes at %s. Start the destructive steps?", eta.Local().Format("15:04"), eta.Sub(end).Round(time.Minute), end.Local().Format("15:04")),
		Detail:  "ETA from earlier rehearsals of " + r.cfg.Runbook.Name + "; nothing destructive has run yet",
		Options: []events.Option{{Key: events.Go, Label: "Go", Effect: "start " + key + " and go on"}, {Key: events.NoGo, Label: "No-go", Effect: "stop before anything destructive; `cairn resume " + r.cfg.Run.ID + "` in the next window"}}})
	if err != nil || !(a.Yes || a.Choice == events.Go) {
		return false, r.stopStatus(ctx, events.Aborted)
	}
	return true, ""
}
