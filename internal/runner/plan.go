// Package runner drives one run of a runbook as a state machine: for each step check → confirm →
// apply → verify; on a failure it stops and asks for a decision (retry, roll back, cut back, skip,
// abort). It never prints: everything it does is a record in the run's journal, which views follow,
// and everything it needs from a person is a question answered through the run directory (by a view,
// a flag policy, or another engineer). It resumes from the journal after a crash.
package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// PlanLookup resolves references at plan time: parameters by value, every step output as
// "(known after apply)", ${item} as "<each item>".
func PlanLookup(vals runbooks.Values) ref.Lookup {
	return func(r ref.Ref) (ref.Value, bool) {
		switch r.Scope {
		case ref.Params:
			return vals.Lookup(r)
		case ref.Steps:
			return ref.Value{Unknown: true}, true
		case ref.Item:
			return ref.Value{S: "<each item>"}, true
		}
		return ref.Value{}, false
	}
}

// Describe lists every step with its described actions, as a plan shows them.
func Describe(rb *runbooks.Runbook, vals runbooks.Values, env steps.Env) []events.StepInfo {
	env.Lookup = PlanLookup(vals)
	var out []events.StepInfo
	add := func(s *runbooks.StepSpec, cutback bool) {
		si := events.StepInfo{
			ID: s.ID, Title: s.Title, Kind: s.Kind, Notes: strings.TrimSpace(s.Notes),
			Destructive: s.Destructive, Confirm: string(s.Confirm), AllowSkip: s.AllowSkip,
			Approvals: s.Approvals, Cutback: cutback,
		}
		if !s.When.IsZero() {
			si.Actions = append(si.Actions, "# only when "+s.When.Raw)
			if ok, err := s.When.Eval(env.Lookup); err == nil && !ok {
				si.OffPath = s.When.Raw + " is false"
			}
		}
		if !s.Foreach.IsZero() {
			si.Actions = append(si.Actions, "# for each of "+s.Foreach.Describe(env.Lookup))
		}
		last := ""
		for _, a := range s.Step.Describe(&env) {
			line := a.Text
			if head := "[" + string(a.Kind) + " → " + a.Target + "]"; a.Target != "" && head != last {
				line = head + "\n" + a.Text
				last = head
			}
			si.Actions = append(si.Actions, line)
		}
		out = append(out, si)
	}
	for _, s := range rb.Steps {
		add(s, false)
	}
	for _, s := range rb.Cutback {
		add(s, true)
	}
	return out
}

// PlanStatus is what a checked plan says of one step. It is the one vocabulary `cairn plan --check`
// and the TUI's plan use; the headline counts each separately.
type PlanStatus string

// Plan statuses, in the headline's order.
const (
	PlanToApply    PlanStatus = "to apply"         // the check found work to do
	PlanDone       PlanStatus = "already done"     // the check found the work in place
	PlanNotOnPath  PlanStatus = "not on this path" // its when: is false for these parameters: it will not run
	PlanBlocked    PlanStatus = "blocked"          // the check found it cannot be done as things stand
	PlanCannotTell PlanStatus = "cannot tell"      // the check could not judge (unreachable, not allowed, known only later)
)

// PlanStatuses are every status in the headline's order.
var PlanStatuses = []PlanStatus{PlanToApply, PlanDone, PlanNotOnPath, PlanBlocked, PlanCannotTell}

// PlanCheck is one step's checked status with the check that gave it (Reason in the check's words).
type PlanCheck struct {
	Status PlanStatus
	steps.Check
}

// StatusOf maps a step's own check to the plan's status.
func StatusOf(c steps.Check) PlanStatus {
	switch c.State {
	case steps.Ready:
		return PlanToApply
	case steps.Done:
		return PlanDone
	case steps.Blocked:
		return PlanBlocked
	}
	return PlanCannotTell
}

// Headline is a checked plan's last line; it never claims more than the checks saw:
// "Plan: 3 to apply, 2 already done, 11 not on this path, 0 blocked, 7 cannot tell."
func Headline(counts map[PlanStatus]int) string {
	parts := make([]string, len(PlanStatuses))
	for i, st := range PlanStatuses {
		parts[i] = fmt.Sprintf("%d %s", counts[st], st)
	}
	return "Plan: " + strings.Join(parts, ", ") + "."
}

// CheckAll runs every step's read-only check in order (`cairn plan --check`). A step whose
// condition is false is not on this path (its check does not run); one whose inputs are only known
// after an earlier step applies cannot tell.
func CheckAll(ctx context.Context, rb *runbooks.Runbook, vals runbooks.Values, env steps.Env) map[string]PlanCheck {
	env.Lookup = PlanLookup(vals)
	out := map[string]PlanCheck{}
	for _, s := range rb.Steps {
		e := env
		e.StepID = s.ID
		if ok, err := s.When.Eval(env.Lookup); err != nil {
			out[s.ID] = PlanCheck{PlanCannotTell, steps.CannotTell("condition %s: %v", s.When.Raw, err)}
			continue
		} else if !ok {
			out[s.ID] = PlanCheck{PlanNotOnPath, steps.Check{State: steps.Done, Change: steps.NoOp, Reason: s.When.Raw + " is false"}}
			continue
		}
		if !s.Foreach.IsZero() {
			out[s.ID] = PlanCheck{PlanCannotTell, steps.CannotTell("runs once per item of %s", s.Foreach.Raw)}
			continue
		}
		c := s.Step.Check(ctx, &e)
		out[s.ID] = PlanCheck{StatusOf(c), c}
	}
	return out
}
