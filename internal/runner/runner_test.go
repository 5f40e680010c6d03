package runner_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/generic"
)

// mint makes a secret token; it is "done" once its marker file exists, and can re-read the token.
type mint struct {
	Dir ref.Template `yaml:"dir"`
}

func (m *mint) marker() string { return filepath.Join(m.Dir.Raw, "minted") }
func (m *mint) Describe(*steps.Env) []steps.Action {
	return []steps.Action{{Kind: "test", Text: "mint"}}
}
func (m *mint) Verify(context.Context, *steps.Env) error { return nil }
func (m *mint) Rollback(context.Context, *steps.Env) error {
	return removeIfThere(m.marker())
}
func (m *mint) OutputNames() []string { return []string{"token"} }
func (m *mint) Check(context.Context, *steps.Env) steps.Check {
	if _, err := os.Stat(m.marker()); err == nil {
		return steps.AlreadyDone("minted")
	}
	return steps.ReadyTo(steps.Create, "to mint")
}
func (m *mint) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	if err := os.WriteFile(m.marker(), nil, 0o600); err != nil {
		return nil, err
	}
	return m.Observe(ctx, env)
}
func (m *mint) Observe(context.Context, *steps.Env) (steps.Outputs, error) {
	return steps.Outputs{"token": {Value: "tok-SECRET-123", Secret: true}}, nil
}

// use writes the token it is given into a file, failing while a "fail" file exists.
type use struct {
	Dir   ref.Template `yaml:"dir"`
	Token ref.Template `yaml:"token"`
}

func (u *use) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: "test", Text: env.Describe(u.Token)}}
}
func (u *use) Check(context.Context, *steps.Env) steps.Check {
	if _, err := os.Stat(filepath.Join(u.Dir.Raw, "used")); err == nil {
		return steps.AlreadyDone("used")
	}
	return steps.ReadyTo(steps.Create, "to use")
}
func (u *use) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	if _, err := os.Stat(filepath.Join(u.Dir.Raw, "fail")); err == nil {
		return nil, errors.New("told to fail")
	}
	tok, err := env.Text(u.Token)
	if err != nil {
		return nil, err
	}
	env.Out.Line("stdout", "using "+tok)
	return nil, os.WriteFile(filepath.Join(u.Dir.Raw, "used"), []byte(tok), 0o600)
}
func (u *use) Verify(context.Context, *steps.Env) error { return nil }
func (u *use) Rollback(context.Context, *steps.Env) error {
	return removeIfThere(filepath.Join(u.Dir.Raw, "used")) // a failed apply wrote none
}

func registry() *steps.Registry {
	r := steps.NewRegistry()
	generic.Register(r)
	r.Register("mint", "test", func() steps.Step { return &mint{} })
	r.Register("use", "test", func() steps.Step { return &use{} })
	return r
}

const rbText = `schema: 1
name: secrets
title: A secret output used by a later step
parameters:
  - {name: dir, required: true}
steps:
  - {id: mint, kind: mint, title: Mint, with: {dir: "DIR"}}
  - {id: use, kind: use, title: Use, with: {dir: "DIR", token: "${steps.mint.token}"}}
`

func start(t *testing.T, state, dir string, policy journal.Policy) (*journal.Run, *runbooks.Runbook, runner.Config) {
	rb, err := runbooks.Load("t.yaml", []byte(strings.ReplaceAll(rbText, "DIR", dir)), registry())
	if err != nil {
		t.Fatal(err)
	}
	vals := runbooks.Values{"dir": {S: dir}}
	meta := journal.Meta{ID: journal.NewID(time.Now()), Runbook: rb.Name, Params: vals.Plain(), Policy: policy, StartedBy: "tester"}
	run, err := journal.Create(state, meta, rb.Text)
	if err != nil {
		t.Fatal(err)
	}
	cfg := runner.Config{Run: run, Meta: meta, Runbook: rb, Values: vals, Actor: events.Actor{User: "tester"},
		Getenv: os.Getenv, Environ: os.Environ(), Poll: 10 * time.Millisecond}
	return run, rb, cfg
}

// A secret output is never journaled; a resumed run reads it again from the target (Observe) for
// the steps after it.
func TestSecretOutputsSurviveResumeWithoutBeingStored(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "fail"), nil, 0o600)
	run, _, cfg := start(t, state, dir, journal.Policy{OnFailure: "abort"})
	status, err := runner.Run(context.Background(), cfg)
	if err != nil || status != events.Aborted {
		t.Fatalf("first run: %s %v", status, err)
	}
	os.Remove(filepath.Join(dir, "fail"))
	status, err = runner.Run(context.Background(), cfg) // resume
	if err != nil || status != events.Succeeded {
		t.Fatalf("resume: %s %v", status, err)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "used"))
	if string(got) != "tok-SECRET-123" {
		t.Fatalf("the later step got %q", got)
	}
	for _, f := range []string{journal.JournalFile, journal.OutputFile} {
		b, _ := os.ReadFile(run.Path(f))
		if strings.Contains(string(b), "tok-SECRET") {
			t.Errorf("%s holds the secret output", f)
		}
	}
	b, _ := os.ReadFile(run.Path(journal.OutputFile))
	if !strings.Contains(string(b), "using ••••") {
		t.Errorf("output line not redacted: %s", b)
	}
	// the first run applied mint; the resume only read its outputs, and its record says so
	recs, _ := journal.ReadAll(run)
	var applied []bool
	for _, e := range recs {
		if e.Type == events.StepApplied && e.Step == "mint" {
			applied = append(applied, e.AlreadyDone)
		}
	}
	if len(applied) != 2 || applied[0] || !applied[1] {
		t.Errorf("mint's step.applied records say already done %v, want [false true] (applied, then read by the resume)", applied)
	}
}

// Decisions come from the policy when no one is there; with none, the run stops and says which flag.
func TestDecisionPolicies(t *testing.T) {
	tests := []struct {
		policy journal.Policy
		want   events.RunStatus
		minted bool
	}{
		{journal.Policy{OnFailure: "abort"}, events.Aborted, true},
		{journal.Policy{OnFailure: "rollback", Yes: true}, events.RolledBack, false},
		{journal.Policy{}, events.Aborted, true},
	}
	for _, tt := range tests {
		state, dir := t.TempDir(), t.TempDir()
		os.WriteFile(filepath.Join(dir, "fail"), nil, 0o600)
		run, _, cfg := start(t, state, dir, tt.policy)
		status, err := runner.Run(context.Background(), cfg)
		if err != nil || status != tt.want {
			t.Errorf("%+v: status %s %v, want %s", tt.policy, status, err, tt.want)
		}
		_, statErr := os.Stat(filepath.Join(dir, "minted"))
		if (statErr == nil) != tt.minted {
			t.Errorf("%+v: minted=%v, want %v", tt.policy, statErr == nil, tt.minted)
		}
		if tt.policy.OnFailure == "" {
			recs, _ := journal.ReadAll(run)
			found := false
			for _, e := range recs {
				if e.Type == events.QuestionAnswered && strings.Contains(e.Note, "no --on-failure was given") {
					found = true
				}
			}
			if !found {
				t.Errorf("no record saying which flag was missing")
			}
		}
	}
}

// An answer sent by a view over the run's socket drives the decision.
func TestAnswersFromAView(t *testing.T) {
	state, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(dir, "fail"), nil, 0o600)
	run, _, cfg := start(t, state, dir, journal.Policy{Interactive: true})
	done := make(chan events.RunStatus, 1)
	go func() {
		s, _ := runner.Run(context.Background(), cfg)
		done <- s
	}()
	answer := func(kind events.QuestionKind, a events.Answer, before func()) {
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			recs, _ := journal.ReadAll(run)
			st := events.NewRunState()
			for _, e := range recs {
				st.Apply(e)
			}
			if st.Open != nil && st.Open.Kind == kind {
				before()
				a.QuestionID = st.Open.ID
				rep, err := journal.Send(context.Background(), run, journal.Request{Kind: journal.AskAnswer, Answer: &a})
				if err != nil || rep.Status != journal.ReplyDone {
					t.Fatalf("answer: %+v %v", rep, err)
				}
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("no %s question", kind)
	}
	answer(events.AskDecision, events.Answer{Choice: events.Retry}, func() { os.Remove(filepath.Join(dir, "fail")) })
	select {
	case s := <-done:
		if s != events.Succeeded {
			t.Fatalf("status %s", s)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the run did not finish after the retry")
	}
}
