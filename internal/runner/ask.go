package runner

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// ErrNoOneToAsk is returned when a question needs a person and the run is not interactive.
var ErrNoOneToAsk = errors.New("no one to answer")

// ask records a question, answers it from the policy when the policy can, and otherwise waits for
// a person's answer over the run's socket (from a view, `cairn approve`, or another engineer).
func (r *Runner) ask(ctx context.Context, q events.Question) (events.Answer, error) {
	r.qcount++
	q.ID = fmt.Sprintf("q%d", r.qcount)
	w, stop := r.waitFor(q.ID) // before the question is journaled: a view may answer at once
	defer stop()
	r.emit(events.Event{Type: events.QuestionAsked, Step: q.Step, Question: &q})
	if a, ok := r.policyAnswer(q); ok {
		r.emit(events.Event{Type: events.QuestionAnswered, Step: q.Step, Answer: &a, Actor: a.By})
		return a, nil
	}
	if !r.cfg.Meta.Policy.Interactive && !waitsForAPerson(q) {
		err := fmt.Errorf("%w: %s", ErrNoOneToAsk, howToAnswer(q, r.cfg.Run.ID, r.verbFor(q.Step)))
		a := events.Answer{QuestionID: q.ID, Choice: events.Abort, By: &events.Actor{User: "cairn", Via: "not interactive"}}
		r.emit(events.Event{Type: events.QuestionAnswered, Step: q.Step, Answer: &a, Note: err.Error()})
		return a, err
	}
	return r.awaitPerson(ctx, q, w)
}

// waitsForAPerson: an approval waits for other engineers and a pause for the person who paused,
// even in a run no one watches (they answer with `cairn approve`, `cairn attach`).
func waitsForAPerson(q events.Question) bool {
	return q.Kind == events.AskApproval || q.Purpose == events.PurposeApproval || q.Purpose == events.PurposeResume
}

// policyAnswer answers from the flags the run was started with. What it may answer keys on the
// question's Purpose and Kind, never on its prompt.
func (r *Runner) policyAnswer(q events.Question) (events.Answer, bool) {
	p := r.cfg.Meta.Policy
	by := func(via string) *events.Actor {
		a := r.cfg.Actor
		a.Via = via
		return &a
	}
	a := events.Answer{QuestionID: q.ID}
	if waitsForAPerson(q) {
		return a, false // no flag answers for another engineer, or for whoever paused the run
	}
	switch q.Kind {
	case events.AskConfirm, events.AskChecklist, events.AskGoNoGo:
		if p.Yes {
			a.Yes, a.By = true, by("flag --yes")
			if q.Kind == events.AskGoNoGo {
				a.Choice = events.Go
			}
			return a, true
		}
		if q.Purpose == events.PurposeUndoStep && p.OnFailure == events.Rollback {
			a.Yes, a.By = true, by("flag --on-failure rollback")
			return a, true
		}
	case events.AskTyped:
		id, _ := events.BaseID(q.Step)
		if v, ok := p.Confirm[id]; ok {
			a.Value, a.By = v, by("flag --confirm")
			if v != q.Expect {
				// a wrong scripted value never counts: the run stops rather than guess
				a.Choice = events.Abort
			}
			return a, true
		}
	case events.AskDecision:
		switch p.OnFailure {
		case events.Abort:
			a.Choice, a.By = events.Abort, by("flag --on-failure abort")
			return a, true
		case events.Rollback:
			// the runbook's cut-back when it has one, else undo what this run applied, else stop
			a.Choice, a.By = events.Abort, by("flag --on-failure rollback")
			switch {
			case hasOption(q, events.Cutback):
				a.Choice = events.Cutback
			case hasOption(q, events.Rollback):
				a.Choice = events.Rollback
			}
			return a, true
		}
	}
	return a, false
}

func hasOption(q events.Question, d events.Decision) bool {
	for _, o := range q.Options {
		if o.Key == d {
			return true
		}
	}
	return false
}

// verbFor is the command that continues with step key: `cairn rollback` for a cut-back step or in a
// rollback, else `cairn resume`.
func (r *Runner) verbFor(key string) string {
	id, _ := events.BaseID(key)
	for _, s := range r.cfg.Runbook.Cutback {
		if s.ID == id {
			return "rollback"
		}
	}
	if r.cfg.Mode == ModeRollback {
		return "rollback"
	}
	return "resume"
}

// howToAnswer is the next command for a question no one was there to answer; verb is the command
// that continues (resume, rollback).
func howToAnswer(q events.Question, run, verb string) string {
	switch q.Kind {
	case events.AskTyped:
		id, _ := events.BaseID(q.Step)
		return fmt.Sprintf("step %s needs a typed confirmation, which --yes does not answer; it has not started: `cairn %s %s --confirm %s=%s` (with your other flags) continues from it, or %s on a terminal and type it", q.Step, verb, run, id, q.Expect, verb)
	case events.AskDecision:
		return "a step failed and no --on-failure was given: " + q.Prompt
	case events.AskInput:
		return "step " + q.Step + " asks for a value: run on a terminal"
	default:
		return fmt.Sprintf("step %s asks %q: pass --yes, or run on a terminal", q.Step, q.Prompt)
	}
}
