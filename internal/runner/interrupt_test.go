package runner_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// tally appends one line to its file per apply; it is done once the file has a line. Its apply
// fails while "<file>.fail" exists (before its work, or after it with fail_after_work), its
// rollback while "<file>.stuck" does, each error carrying its fix (remove that file). It can hold
// (until its file's ".release" exists or ctx ends) before or after its work, or in Verify.
type tally struct {
	File string `yaml:"file"`
	Hold string `yaml:"hold"` // "" | before-apply | after-apply | verify
	// Stubborn: when held, finish normally once ctx ends instead of failing (a step that ignores
	// cancellation, so the runner meets the stop only between steps).
	Stubborn bool `yaml:"stubborn"`
	// Reads: its check says it only reads (a preflight); it still appends its line when applied.
	Reads bool `yaml:"reads"`
	// FailAfterWork: with "<file>.fail", the apply appends its line and then fails (half-way).
	FailAfterWork bool `yaml:"fail_after_work"`
	// SaysUnchanged: its failure before its work says it changed nothing (steps.Unchanged).
	SaysUnchanged bool `yaml:"says_unchanged"`
}

func lines(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

func (s *tally) hold(ctx context.Context, where string) error {
	if s.Hold != where {
		return nil
	}
	for {
		if _, err := os.Stat(s.File + ".release"); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			if s.Stubborn {
				return nil
			}
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (s *tally) Describe(*steps.Env) []steps.Action {
	return []steps.Action{{Kind: "test", Text: "append a line to " + s.File}}
}
func (s *tally) Check(context.Context, *steps.Env) steps.Check {
	if _, err := os.Stat(s.File + ".lookalike"); err == nil {
		return steps.BlockedBy(s.File+" is another run's", "move "+s.File+".lookalike aside")
	}
	if lines(s.File) > 0 {
		return steps.AlreadyDone("%s has its line", s.File)
	}
	if s.Reads {
		return steps.ReadyTo(steps.Read, "reads only")
	}
	return steps.ReadyTo(steps.Create, "to append a line")
}
func (s *tally) Apply(ctx context.Context, _ *steps.Env) (steps.Outputs, error) {
	if err := s.hold(ctx, "before-apply"); err != nil {
		return nil, err
	}
	_, err := os.Stat(s.File + ".fail")
	told := err == nil
	if told && !s.FailAfterWork {
		err := steps.Failed("rm "+s.File+".fail", "told to fail (%s.fail exists)", s.File)
		if s.SaysUnchanged {
			err = steps.Unchanged(err)
		}
		return nil, err
	}
	f, err := os.OpenFile(s.File, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	f.WriteString("applied\n")
	f.Close()
	if told {
		return nil, errors.New("told to fail half-way (" + s.File + ".fail exists)")
	}
	return nil, s.hold(ctx, "after-apply")
}
func (s *tally) Verify(ctx context.Context, _ *steps.Env) error {
	if err := s.hold(ctx, "verify"); err != nil {
		return err
	}
	if lines(s.File) == 0 {
		return errors.New("no line")
	}
	return nil
}

// Rollback removes the file, if there is one (an apply that failed before its work left none).
func (s *tally) Rollback(context.Context, *steps.Env) error {
	if _, err := os.Stat(s.File + ".stuck"); err == nil {
		return steps.Failed("rm "+s.File+".stuck", "%s is stuck", s.File)
	}
	return removeIfThere(s.File)
}

// removeIfThere removes a file a step made; one that is not there is not an error (the contract:
// a rollback after a failed apply undoes what exists).
func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func tallyRegistry() *steps.Registry {
	r := steps.NewRegistry()
	r.Register("tally", "test", func() steps.Step { return &tally{} })
	return r
}

// tallyRun makes a run of three tally steps a, b, c in dir; bWith is b's extra YAML (hold, approvals…).
func tallyRun(t *testing.T, dir, aWith, bWith string, policy journal.Policy) (*journal.Run, runner.Config) {
	return tallyRunWith(t, dir, aWith, bWith, "", policy)
}

// tallyRunWith is tallyRun with more YAML after the steps (a cutback section).
func tallyRunWith(t *testing.T, dir, aWith, bWith, more string, policy journal.Policy) (*journal.Run, runner.Config) {
	t.Helper()
	text := `schema: 1
name: tally
title: Three steps that each append a line
steps:
  - {id: a, kind: tally, title: A, with: {file: "DIR/a"AWITH}}
  - {id: b, kind: tally, title: B, BWITH}
  - {id: c, kind: tally, title: C, with: {file: "DIR/c"}}
` + more
	text = strings.NewReplacer("AWITH", aWith, "BWITH", bWith).Replace(text)
	text = strings.ReplaceAll(text, "DIR", dir)
	rb, err := runbooks.Load("t.yaml", []byte(text), tallyRegistry())
	if err != nil {
		t.Fatalf("%v\n%s", err, text)
	}
	meta := journal.Meta{ID: journal.NewID(time.Now()), Runbook: rb.Name, Policy: policy, StartedBy: "tester"}
	run, err := journal.Create(t.TempDir(), meta, rb.Text)
	if err != nil {
		t.Fatal(err)
	}
	return run, runner.Config{Run: run, Meta: meta, Runbook: rb, Values: runbooks.Values{}, Actor: events.Actor{User: "tester"},
		Getenv: os.Getenv, Environ: os.Environ(), Poll: 5 * time.Millisecond}
}

// stopWhen runs the runner and cancels its context (with a cause, as a signal does) once the
// journal shows cond; it returns the status the runner ended with.
func stopWhen(t *testing.T, run *journal.Run, cfg runner.Config, cond func([]events.Event) bool) events.RunStatus {
	t.Helper()
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan events.RunStatus, 1)
	go func() {
		s, err := runner.Run(ctx, cfg)
		if err != nil {
			t.Errorf("runner: %v", err)
		}
		done <- s
	}()
	for {
		select {
		case s := <-done:
			t.Fatalf("the run ended %s before the point to stop it", s)
		case <-time.After(5 * time.Millisecond):
		}
		recs, _ := journal.ReadAll(run)
		if cond(recs) {
			break
		}
	}
	cancel(errors.New("terminated signal received"))
	return <-done
}

func seen(typ events.Type, step string) func([]events.Event) bool {
	return func(recs []events.Event) bool {
		for _, e := range recs {
			if e.Type == typ && e.Step == step {
				return true
			}
		}
		return false
	}
}

func at(cond func([]events.Event) bool) func(string) func([]events.Event) bool {
	return func(string) func([]events.Event) bool { return cond }
}

func counts(dir string) [3]int {
	return [3]int{lines(filepath.Join(dir, "a")), lines(filepath.Join(dir, "b")), lines(filepath.Join(dir, "c"))}
}

// A runner stopped at any point ends the run interrupted — never succeeded — naming the step in
// flight; a resume finishes it with the step in flight applied at most once more and no finished
// step repeated, counted in the target.
func TestInterruptedIsNotSucceeded(t *testing.T) {
	tests := []struct {
		name   string
		aWith  string
		bWith  string
		policy journal.Policy
		stopAt func(dir string) func([]events.Event) bool
		// at the stop: lines in a, b, c; the step and phase recorded in flight ("" between steps)
		atStop      [3]int
		step, phase string
		resume      journal.Policy
	}{
		{name: "in apply, before its work", bWith: `with: {file: "DIR/b", hold: before-apply}`,
			stopAt: at(seen(events.StepApplying, "b")), atStop: [3]int{1, 0, 0}, step: "b", phase: "apply"},
		{name: "in apply, after its work", bWith: `with: {file: "DIR/b", hold: after-apply}`,
			stopAt: func(dir string) func([]events.Event) bool {
				return func([]events.Event) bool { return lines(filepath.Join(dir, "b")) == 1 } // once its work is done
			},
			atStop: [3]int{1, 1, 0}, step: "b", phase: "apply"},
		{name: "in verify", bWith: `with: {file: "DIR/b", hold: verify}`,
			stopAt: at(seen(events.StepVerifying, "b")), atStop: [3]int{1, 1, 0}, step: "b", phase: "verify"},
		{name: "waiting for a confirmation", bWith: `confirm: "yes", with: {file: "DIR/b"}`, policy: journal.Policy{Interactive: true},
			stopAt: at(seen(events.QuestionAsked, "b")), atStop: [3]int{1, 0, 0}, step: "b", phase: "confirm", resume: journal.Policy{Yes: true}},
		{name: "between steps", aWith: `, hold: verify, stubborn: true`, bWith: `with: {file: "DIR/b"}`,
			stopAt: at(seen(events.StepVerifying, "a")), atStop: [3]int{1, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			run, cfg := tallyRun(t, dir, tt.aWith, tt.bWith, tt.policy)
			if s := stopWhen(t, run, cfg, tt.stopAt(dir)); s != events.Interrupted {
				t.Fatalf("stopped run ended %q, want interrupted", s)
			}
			if got := counts(dir); got != tt.atStop {
				t.Fatalf("lines a, b, c at the stop: %v, want %v", got, tt.atStop)
			}
			recs, _ := journal.ReadAll(run)
			st := events.NewRunState()
			for _, e := range recs {
				st.Apply(e)
			}
			if st.Status != events.Interrupted || !strings.Contains(st.FinishNote, "terminated signal received") {
				t.Fatalf("the journal says %q (%s)", st.Status, st.FinishNote)
			}
			var inflight []string
			for _, e := range recs {
				if e.Type == events.StepInterrupted {
					inflight = append(inflight, e.Step+" "+e.Phase)
				}
			}
			if tt.step == "" {
				if len(inflight) != 0 || !strings.Contains(st.FinishNote, "between steps, after a") {
					t.Fatalf("between steps: in flight %v, note %q", inflight, st.FinishNote)
				}
			} else if len(inflight) != 1 || inflight[0] != tt.step+" "+tt.phase || st.Step(tt.step).Status != events.StatusInterrupted {
				t.Fatalf("in flight %v, want [%s %s]", inflight, tt.step, tt.phase)
			}

			// resume: the held step may go on now
			os.WriteFile(filepath.Join(dir, "a.release"), nil, 0o600)
			os.WriteFile(filepath.Join(dir, "b.release"), nil, 0o600)
			cfg.Meta.Policy = tt.resume
			s, err := runner.Run(context.Background(), cfg)
			if err != nil || s != events.Succeeded {
				t.Fatalf("resume: %s %v", s, err)
			}
			if got := counts(dir); got != [3]int{1, 1, 1} {
				t.Fatalf("lines a, b, c after the resume: %v, want one each", got)
			}
		})
	}
}

// A step waiting for approvals when the runner stops never runs; the run is interrupted, not aborted.
func TestInterruptedWhileWaitingForApproval(t *testing.T) {
	dir := t.TempDir()
	run, cfg := tallyRun(t, dir, "", `approvals: 2, destructive: true, with: {file: "DIR/b"}`, journal.Policy{Yes: true})
	if s := stopWhen(t, run, cfg, seen(events.QuestionAsked, "b")); s != events.Interrupted {
		t.Fatalf("ended %q", s)
	}
	if got := counts(dir); got != [3]int{1, 0, 0} {
		t.Fatalf("lines %v: the step waiting for approval ran", got)
	}
	recs, _ := journal.ReadAll(run)
	if !seen(events.StepInterrupted, "b")(recs) {
		t.Fatal("no step.interrupted for b")
	}
}
