// Package steptest is the contract test every step kind passes, on a real target, with the state
// judged by the test's own independent probe (SQL, stat, a connection) — never by the step itself:
//
//	Check changes nothing; Apply then Verify passes; a second Check says Done; Rollback then Check
//	gives the original plan (or the step says, with a reason, that it cannot be rolled back); and when
//	the target is changed behind cairn's back, Check notices.
//
// Before all that, every case plants a look-alike at the step's own address (see LookAlike): the
// proof Check accepts as "done" must be specific to this target, not merely a thing of the same
// name. A kind that cannot have a look-alike says why in Case.NoLookAlike; steps/LOOKALIKES.md is
// the table of what each kind accepts as done and what binds it to the target.
package steptest

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/goccy/go-yaml"
)

// Case is one step on one target.
type Case struct {
	Step steps.Step
	Env  *steps.Env
	// Probe describes the target's state as the test sees it (e.g. "role app exists: false").
	Probe func(t testing.TB) string
	// Tamper changes the target behind cairn's back after an apply (e.g. drops the role), so that
	// Check must no longer say Done. Nil skips that part.
	Tamper func(t testing.TB)
	// LookAlike is planted at the step's own address before the contract runs (see LookAlike).
	LookAlike *LookAlike
	// NoLookAlike is the written reason this kind cannot have a look-alike (its Check accepts no
	// artifact as done: it reads afresh every time, or the runbook's own query is the proof). A
	// case gives a LookAlike or this reason, never neither.
	NoLookAlike string
}

// Run runs the contract.
func Run(t *testing.T, c Case) {
	t.Helper()
	lookAlikeProbe(t, c, false)
	ctx := context.Background()
	before := c.Probe(t)
	ch := c.Step.Check(ctx, c.Env)
	if ch.State == steps.Done || ch.State == steps.Blocked {
		t.Fatalf("first check: want ready/unknown, got %s (%s %s)", ch.State, ch.Reason, ch.Fix)
	}
	if got := c.Probe(t); got != before {
		t.Fatalf("check changed the target:\nbefore: %s\nafter:  %s", before, got)
	}
	if len(c.Step.Describe(c.Env)) == 0 {
		t.Fatalf("describe lists no action")
	}
	if _, err := c.Step.Apply(ctx, c.Env); err != nil {
		t.Fatalf("apply: %v", err)
	}
	if err := c.Step.Verify(ctx, c.Env); err != nil {
		t.Fatalf("verify after apply: %v", err)
	}
	applied := c.Probe(t)
	if applied == before {
		t.Fatalf("apply changed nothing the probe can see: %s", applied)
	}
	if ch := c.Step.Check(ctx, c.Env); ch.State != steps.Done {
		t.Fatalf("second check: want done, got %s (%s)", ch.State, ch.Reason)
	}
	err := c.Step.Rollback(ctx, c.Env)
	switch {
	case steps.IsNotReversible(err):
		t.Logf("declares it cannot be rolled back: %v", err)
		if got := c.Probe(t); got != applied {
			t.Fatalf("a refused rollback changed the target:\nbefore: %s\nafter:  %s", applied, got)
		}
	case err != nil:
		t.Fatalf("rollback: %v", err)
	default:
		if got := c.Probe(t); got != before {
			t.Fatalf("rollback did not restore the original state:\nwant: %s\ngot:  %s", before, got)
		}
		if ch := c.Step.Check(ctx, c.Env); ch.State != steps.Ready && ch.State != steps.Unknown {
			t.Fatalf("check after rollback: want ready, got %s (%s)", ch.State, ch.Reason)
		}
		if c.Tamper != nil {
			if _, err := c.Step.Apply(ctx, c.Env); err != nil {
				t.Fatalf("apply again: %v", err)
			}
		}
	}
	if c.Tamper != nil {
		c.Tamper(t)
		if ch := c.Step.Check(ctx, c.Env); ch.State == steps.Done {
			t.Fatalf("target changed behind cairn's back, but check still says done (%s)", ch.Reason)
		}
	}
}

// Decode decodes a step of the given kind from YAML (the `with:` block's contents).
func Decode(t testing.TB, reg *steps.Registry, kind, with string) steps.Step {
	t.Helper()
	k, ok := reg.Lookup(kind)
	if !ok {
		t.Fatalf("no kind %q", kind)
	}
	s := k.New()
	if err := yaml.UnmarshalWithOptions([]byte(with), s, yaml.DisallowUnknownField()); err != nil {
		t.Fatalf("decode %s: %v", kind, err)
	}
	if v, ok := s.(steps.Validator); ok {
		if err := v.Validate(); err != nil {
			t.Fatalf("validate %s: %v", kind, err)
		}
	}
	return s
}

// Sink collects output lines.
type Sink struct {
	mu    sync.Mutex
	Lines []string
}

// Line records a line.
func (s *Sink) Line(stream, text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Lines = append(s.Lines, stream+": "+text)
}

// Progress is ignored.
func (s *Sink) Progress(done, total float64, unit string) {}

// Text joins the lines.
func (s *Sink) Text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.Lines, "\n")
}

// Env builds an env with the given parameters (names starting with "secret:" are secret) and
// step outputs ("steps.<id>.<out>" keys).
func Env(t testing.TB, values map[string]string) *steps.Env {
	vals := map[string]ref.Value{}
	for k, v := range values {
		secret := strings.HasPrefix(k, "secret:")
		vals[strings.TrimPrefix(k, "secret:")] = ref.Value{S: v, Secret: secret}
	}
	look := func(r ref.Ref) (ref.Value, bool) {
		switch r.Scope {
		case ref.Params:
			v, ok := vals[r.Name]
			return v, ok
		case ref.Steps:
			v, ok := vals["steps."+r.Name+"."+r.Output]
			return v, ok
		case ref.Item:
			v, ok := vals["item"]
			return v, ok
		}
		return ref.Value{}, false
	}
	return &steps.Env{
		StepID:  "test",
		Lookup:  look,
		Getenv:  os.Getenv,
		Environ: os.Environ(),
		Out:     &Sink{},
		Ask: func(ctx context.Context, q steps.Question) (steps.Answer, error) {
			return steps.Answer{Yes: true, By: "test"}, nil
		},
		Secrets: func(string) {},
		Now:     time.Now,
		WorkDir: t.TempDir(),
	}
}

// RunReadOnly is the contract of a step that only reads (a preflight, a proof): Check, Apply,
// Verify and Rollback change nothing the probe can see; Apply then Verify pass on a good target; and
// when Break spoils the target (a missing prerequisite), Check says Blocked with a fix, or Apply fails.
func RunReadOnly(t *testing.T, c Case, breakTarget func(t testing.TB)) {
	t.Helper()
	lookAlikeProbe(t, c, true)
	ctx := context.Background()
	before := c.Probe(t)
	if ch := c.Step.Check(ctx, c.Env); ch.State == steps.Blocked {
		t.Fatalf("check on a good target: blocked (%s; fix: %s)", ch.Reason, ch.Fix)
	}
	if len(c.Step.Describe(c.Env)) == 0 {
		t.Fatalf("describe lists no action")
	}
	if _, err := c.Step.Apply(ctx, c.Env); err != nil {
		t.Fatalf("apply on a good target: %v", err)
	}
	if err := c.Step.Verify(ctx, c.Env); err != nil {
		t.Fatalf("verify: %v", err)
	}
	if err := c.Step.Rollback(ctx, c.Env); err != nil && !steps.IsNotReversible(err) {
		t.Fatalf("rollback of a read-only step: %v", err)
	}
	if got := c.Probe(t); got != before {
		t.Fatalf("a read-only step changed the target:\nbefore: %s\nafter:  %s", before, got)
	}
	if breakTarget == nil {
		return
	}
	breakTarget(t)
	ch := c.Step.Check(ctx, c.Env)
	if ch.State == steps.Blocked {
		if ch.Fix == "" {
			t.Fatalf("blocked without a fix: %s", ch.Reason)
		}
		return
	}
	if _, err := c.Step.Apply(ctx, c.Env); err == nil {
		t.Fatalf("a spoiled target passed: check %s (%s) and apply succeeded", ch.State, ch.Reason)
	}
}
