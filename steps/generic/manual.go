package generic

import (
	"context"
	"errors"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Manual is the `manual` kind: a checklist the engineer ticks off by hand ("announce the window").
type Manual struct {
	Items         []ref.Template `yaml:"items"`
	RollbackItems []ref.Template `yaml:"rollback_items"`
}

// Validate checks there is something to tick.
func (m *Manual) Validate() error {
	if len(m.Items) == 0 {
		return errors.New("give `items:` — what the engineer must do and tick off")
	}
	return nil
}

func (m *Manual) items(env *steps.Env, ts []ref.Template) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, env.Describe(t))
	}
	return out
}

// Describe lists the checklist.
func (m *Manual) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActManual, Target: "engineer", Text: "☐ " + strings.Join(m.items(env, m.Items), "\n☐ ")}}
}

// Check cannot be judged by a machine.
func (m *Manual) Check(context.Context, *steps.Env) steps.Check {
	return steps.CannotTell("a person confirms this checklist")
}

// Checklist is what the engineer ticks to apply the step. The runner asks it together with the
// step's confirmation, as one prompt, and Apply's own question is then answered by that one.
func (m *Manual) Checklist(env *steps.Env) []string { return m.items(env, m.Items) }

// Apply asks the engineer to tick every item.
func (m *Manual) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return nil, m.ask(ctx, env, "Tick each item when it is done", m.Items)
}

func (m *Manual) ask(ctx context.Context, env *steps.Env, prompt string, items []ref.Template) error {
	if env.Ask == nil {
		return errors.New("a manual step needs someone to answer: run on a terminal, or pass --yes")
	}
	a, err := env.Ask(ctx, steps.Question{Kind: "checklist", Prompt: prompt, Items: m.items(env, items)})
	if err != nil {
		return err
	}
	if !a.Yes {
		return errors.New("checklist not completed")
	}
	return nil
}

// Verify has nothing a machine can probe.
func (m *Manual) Verify(context.Context, *steps.Env) error { return nil }

// Rollback asks for the rollback checklist, if the runbook gives one.
func (m *Manual) Rollback(ctx context.Context, env *steps.Env) error {
	if len(m.RollbackItems) == 0 {
		return nil
	}
	return m.ask(ctx, env, "Undo by hand, ticking each item", m.RollbackItems)
}
