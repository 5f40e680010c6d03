package runner

import (
	"context"
	"fmt"
	"slices"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// reproveWindow checks the window's ready steps again when a.key is the step that opens the window,
// after its confirmation and before it applies: what they proved may be stale (the preparation
// days old, the confirmation waited on for hours, a key disabled or the new instance renamed
// meanwhile). A ready step now blocked, or whose check cannot tell, fails the window's start at
// check with its fix: nothing of it was done, the application was not stopped.
func (r *Runner) reproveWindow(ctx context.Context, a *attempt) *failure {
	w := r.cfg.Runbook.Window
	if w == nil || a.spec.ID != w.From || a.key != a.spec.ID {
		return nil
	}
	for _, id := range w.Ready {
		i := slices.IndexFunc(r.cfg.Runbook.Steps, func(s *runbooks.StepSpec) bool { return s.ID == id })
		if i < 0 {
			continue
		}
		spec := r.cfg.Runbook.Steps[i]
		env := r.baseEnv(ctx, id)
		if ok, err := spec.When.Eval(env.Lookup); err == nil && !ok {
			continue
		}
		ch := spec.Step.Check(ctx, env)
		if ch.State != steps.Blocked && ch.State != steps.Unknown {
			r.emit(events.Event{Type: events.Note, Step: a.key, Note: "proved again before the window opens: " + id + " — " + ch.Reason})
			continue
		}
		fix := ch.Fix
		if fix == "" {
			fix = "find out why, then `cairn resume " + r.cfg.Run.ID + "`"
		}
		return &failure{phaseCheck, steps.WithFix(fmt.Errorf("the window did not open: %s no longer holds — %s; nothing of %s was done, the application was not stopped", id, ch.Reason, a.key),
			fix+"; then `cairn resume "+r.cfg.Run.ID+"` (the window opens only on what holds then)")}
	}
	return nil
}
