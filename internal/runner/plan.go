// Package runner drives one run of a runbook as a state machine: for each step check → confirm →
// apply → verify; on a failure it stops and asks for a decision (retry, roll back, cut back, skip,
// abort). It never prints: everything it does is a record in the run's journal, which views follow,
// and everything it needs from a person is a question answered through the run directory (by a view,
// a flag policy, or another engineer). It resumes from the journal after a crash.
package runner

import (
	"context"
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

// CheckAll runs every step's read-only check in order (`cairn plan --check`). A step whose inputs
// are only known after an earlier step applies reports Unknown.
func CheckAll(ctx context.Context, rb *runbooks.Runbook, vals runbooks.Values, env steps.Env) map[string]steps.Check {
	env.Lookup = PlanLookup(vals)
	out := map[string]steps.Check{}
	for _, s := range rb.Steps {
		e := env
		e.StepID = s.ID
		if !s.Foreach.IsZero() {
			out[s.ID] = steps.CannotTell("runs once per item of %s", s.Foreach.Raw)
			continue
		}
		if ok, err := s.When.Eval(env.Lookup); err != nil {
			out[s.ID] = steps.CannotTell("condition %s: %v", s.When.Raw, err)
			continue
		} else if !ok {
			out[s.ID] = steps.Check{State: steps.Done, Change: steps.NoOp, Reason: "skipped: " + s.When.Raw + " is false"}
			continue
		}
		out[s.ID] = s.Step.Check(ctx, &e)
	}
	return out
}
