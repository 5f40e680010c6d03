// Package runner drives one run of a runbook as a state machine: for each step check → confirm →
// apply → verify; on a failure it stops and asks for a decision (retry, roll back, cut back, skip,
// abort). It never prints: everything it does is a record in the run's journal, which views follow,
// and everything it needs from a person is a question answered through the run directory (by a view,
// a flag policy, or another engineer). It resumes from the journal after a crash.
package runner

import (
	"context"
	"fmt"
	"slices"
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
		if s.Confirm == runbooks.ConfirmTyped {
			si.ConfirmValue = s.ConfirmWith.Describe(env.Lookup)
		}
		if !cutback {
			si.Phase = string(rb.PhaseOf(s.ID))
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
	// PlanAtRunTime: the check found the work done or blocked, but an earlier step still to apply
	// acts on what it checks (After): the world it will see is not there yet, so it is judged when
	// the run reaches it.
	PlanAtRunTime PlanStatus = "checked at run time"
)

// PlanStatuses are every status in the headline's order.
var PlanStatuses = []PlanStatus{PlanToApply, PlanDone, PlanNotOnPath, PlanBlocked, PlanCannotTell, PlanAtRunTime}

// PlanCheck is one step's checked status with the check that gave it (Reason in the check's words).
// After names the earlier step still to apply that the status waits on (PlanAtRunTime).
type PlanCheck struct {
	Status PlanStatus
	After  string
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
// after an earlier step applies cannot tell. A check that finds the work done or blocked while an
// earlier step it depends on is still to apply (or cannot tell) judged today's world, not the one
// it will run in: it is checked at run time, after that step (see pending).
func CheckAll(ctx context.Context, rb *runbooks.Runbook, vals runbooks.Values, env steps.Env) map[string]PlanCheck {
	env.Lookup = PlanLookup(vals)
	out := map[string]PlanCheck{}
	var pend pending
	for _, s := range rb.Steps {
		c := checkOne(ctx, s, env)
		if c.Status == PlanDone || c.Status == PlanBlocked {
			if after := pend.dependency(s, env.Lookup); after != "" {
				c.Status, c.After = PlanAtRunTime, after
			}
		}
		out[s.ID] = c
		pend.add(s, c, env.Lookup)
	}
	return out
}

// checkOne is one step's plan status as things stand, regardless of the steps before it.
func checkOne(ctx context.Context, s *runbooks.StepSpec, env steps.Env) PlanCheck {
	env.StepID = s.ID
	if ok, err := s.When.Eval(env.Lookup); err != nil {
		return PlanCheck{Status: PlanCannotTell, Check: steps.CannotTell("condition %s: %v", s.When.Raw, err)}
	} else if !ok {
		return PlanCheck{Status: PlanNotOnPath, Check: steps.Check{State: steps.Done, Change: steps.NoOp, Reason: s.When.Raw + " is false"}}
	}
	if !s.Foreach.IsZero() {
		return PlanCheck{Status: PlanCannotTell, Check: steps.CannotTell("runs once per item of %s", s.Foreach.Raw)}
	}
	c := s.Step.Check(ctx, &env)
	return PlanCheck{Status: StatusOf(c), Check: c}
}

// pending are the earlier steps of a checked plan whose work is still to come — to apply with a
// change (not a read), cannot tell, or themselves checked at run time — with what they name.
type pending []pendingStep

type pendingStep struct {
	id    string
	names map[string]bool
}

func (p *pending) add(s *runbooks.StepSpec, c PlanCheck, look ref.Lookup) {
	switch {
	case c.Status == PlanToApply && c.Change == steps.Read:
		return
	case c.Status == PlanToApply, c.Status == PlanCannotTell, c.Status == PlanAtRunTime:
	default:
		return
	}
	names := map[string]bool{}
	for _, n := range s.Names(look) {
		names[n] = true
	}
	*p = append(*p, pendingStep{s.ID, names})
}

// dependency is the latest pending step s depends on: one whose outputs s uses, or one naming a
// thing s names too (the instance it renames, the copy it opens); "" when none.
func (p pending) dependency(s *runbooks.StepSpec, look ref.Lookup) string {
	uses := s.StepRefs()
	names := s.Names(look)
	for i := len(p) - 1; i >= 0; i-- {
		if slices.Contains(uses, p[i].id) || slices.ContainsFunc(names, func(n string) bool { return p[i].names[n] }) {
			return p[i].id
		}
	}
	return ""
}
