package runner

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/redact"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// failure is how a step's attempt failed: the phase it was in and the error.
type failure struct {
	phase string
	err   error
}

// unchanged: the step said its failed apply changed nothing (steps.Unchanged).
func (f *failure) unchanged() bool { return f.phase == phaseApply && steps.IsUnchanged(f.err) }

// check runs the step's read-only check and records what it said.
func (r *Runner) check(ctx context.Context, a *attempt, env *steps.Env) steps.Check {
	r.at(a.key, phaseCheck)
	r.emit(events.Event{Type: events.StepChecking, Step: a.key})
	ch := a.spec.Step.Check(ctx, env)
	r.reads[a.key] = ch.Change == steps.Read
	r.emit(events.Event{Type: events.StepChecked, Step: a.key, Check: &events.CheckInfo{State: string(ch.State), Change: string(ch.Change), Reason: ch.Reason, Fix: ch.Fix}})
	return ch
}

// act does what the check calls for: nothing for a blocked step (a failure), the outputs and a
// verify for one already done, confirm → apply → verify for the rest. A non-empty status stops the
// run (a confirmation refused or cut short).
func (r *Runner) act(ctx context.Context, a *attempt, env *steps.Env, ch steps.Check) (*failure, events.RunStatus) {
	switch ch.State {
	case steps.Blocked:
		return &failure{phaseCheck, errors.New(ch.Reason)}, ""
	case steps.Done:
		return r.settleDone(ctx, a, env), ""
	}
	return r.applyStep(ctx, a, env, ch)
}

// settleDone takes a step found done: its outputs read from the target, then verified.
func (r *Runner) settleDone(ctx context.Context, a *attempt, env *steps.Env) *failure {
	if a.interrupted {
		r.emit(events.Event{Type: events.Note, Step: a.key, Note: "the interrupted apply had finished its work: not repeated"})
	}
	if err := r.observe(ctx, a.spec, a.key, env); err != nil {
		return &failure{phaseApply, err}
	}
	// found done after this run's own apply started (a resume, or a retry after a failed apply or
	// verify): this run's work, which its roll back undoes
	if err := r.verify(ctx, a.spec, a.key, env, a.interrupted || r.partial[a.key]); err != nil {
		return &failure{phaseVerify, err}
	}
	return nil
}

// applyStep confirms (once), applies and verifies a step with work to do. A step interrupted while
// applying whose check cannot tell is rolled back to a clean state first.
func (r *Runner) applyStep(ctx context.Context, a *attempt, env *steps.Env, ch steps.Check) (*failure, events.RunStatus) {
	if a.interrupted && ch.State == steps.Unknown {
		r.emit(events.Event{Type: events.Note, Step: a.key, Note: "interrupted while applying and its check cannot tell: rolling the step back to a clean state before applying again"})
		r.at(a.key, phaseRollback)
		if err := a.spec.Step.Rollback(ctx, env); err != nil && !steps.IsNotReversible(err) {
			return &failure{phaseRollback, err}, ""
		}
	}
	if !a.confirmed {
		r.at(a.key, phaseConfirm)
		ok, status := r.confirm(ctx, a.spec, a.key)
		if !ok {
			return nil, status
		}
		a.confirmed = true
	}
	if f := r.reproveWindow(ctx, a); f != nil {
		return f, ""
	}
	if err := r.apply(ctx, a.spec, a.key, env); err != nil {
		f := &failure{phaseApply, err}
		if f.unchanged() {
			r.unchanged(a.key)
		}
		return f, ""
	}
	if err := r.verify(ctx, a.spec, a.key, env, true); err != nil {
		return &failure{phaseVerify, err}, ""
	}
	return nil, ""
}

// apply runs the step's Apply under its timeout and records its outputs.
func (r *Runner) apply(ctx context.Context, spec *runbooks.StepSpec, key string, env *steps.Env) error {
	r.at(key, phaseApply)
	r.emit(events.Event{Type: events.StepApplying, Step: key})
	r.status[key] = applying
	r.applying(key)
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
	r.recordOutputs(key, outs, time.Since(start), false)
	return nil
}

// recordOutputs journals a step's outputs: its apply's, or (found) those read from the target of
// a step found done.
func (r *Runner) recordOutputs(key string, outs steps.Outputs, took time.Duration, found bool) {
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
	r.emit(events.Event{Type: events.StepApplied, Step: key, Outputs: shown, Elapsed: took, AlreadyDone: found})
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
		r.recordOutputs(key, outs, 0, true)
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
	} else if !r.reads[key] {
		r.settled(key)
	}
	delete(r.partial, key)
	r.emit(events.Event{Type: events.StepVerified, Step: key, Elapsed: time.Since(start), Note: note, AlreadyDone: !ours})
	r.status[key] = verified
	return nil
}
