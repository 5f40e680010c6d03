package runner

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/ref"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

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
		if err == nil && a.Value != "" && a.Value != want {
			r.emit(events.Event{Type: events.StepFailed, Step: key, Phase: phaseConfirm, Error: r.stated(mismatch(spec, key, r.cfg.Run.ID, a.Value, want))})
		}
		if err != nil || a.Value != want {
			return false, r.stopStatus(ctx, events.Aborted)
		}
	}
	return true, ""
}

// mismatch is a typed confirmation that did not match: what was typed, the form the step asks for
// (the parameter it names: "the value of instance, app-db"), and how to confirm it.
func mismatch(spec *runbooks.StepSpec, key, runID, typed, want string) diag.Diagnostic {
	form := want
	if refs := spec.ConfirmWith.Refs(); len(refs) == 1 && refs[0].Scope == ref.Params && strings.TrimSpace(spec.ConfirmWith.Raw) == "${params."+refs[0].Name+"}" {
		form = "the value of " + refs[0].Name + ", " + want
	}
	id, _ := events.BaseID(key)
	return diag.Diagnostic{
		Summary: fmt.Sprintf("the typed confirmation of %s did not match: %q was given, the step asks for %s", key, typed, form),
		Detail:  fmt.Sprintf("to confirm %s (%s), type %s exactly; nothing of this step was done", key, spec.Title, want),
		Next:    fmt.Sprintf("`cairn resume %s --confirm %s=%s`, or type it when asked", runID, id, want),
	}
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
	var left []events.Left // this step and every one after it, none begun
	counting := false
	for _, s := range r.cfg.Runbook.Steps {
		if s == spec {
			counting = true
		}
		if counting {
			left = append(left, events.Left{ID: s.ID})
		}
	}
	now := r.cfg.Now()
	eta := now.Add(events.Remaining(timings, left, now))
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
