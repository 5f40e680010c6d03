package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/runner"
)

// cutbackPathYAML is a cut-back of two steps, one of them off this run's path (path is "b").
const cutbackPathYAML = `parameters:
  - {name: path, type: string, default: b}
cutback:
  - {id: undo, kind: tally, title: Undo, with: {file: "DIR/undo"}}
  - {id: undo-other, kind: tally, title: Undo the other path, when: '${params.path} == "other"', with: {file: "DIR/undo-other"}}
`

// The failure menu offers only the ways back that apply: none when no step changed anything (a
// step that only reads is not undone, one that failed in its check never started), the
// step-by-step roll back before the point of no return (the cut-back is for after it) — the failed
// step first when its apply had started, even when it is the only one — and past the point of no
// return the cut-back listing only its steps on this run's path.
func TestFailureMenuOffersOnlyWhatApplies(t *testing.T) {
	tests := []struct {
		name, aWith  string
		bFile        string // what makes b fail: b.fail in its apply, b.lookalike in its check
		bWith        string // more of b's with: block
		noReturn     int    // the step marked point_of_no_return: 0 a, 2 c (never reached)
		options      []events.Decision
		want, absent []string // in the options' effects
	}{
		{name: "nothing changed", aWith: ", reads: true", bFile: "b.lookalike", noReturn: 2, options: []events.Decision{events.Retry, events.Abort},
			want: []string{"no step of this run changed anything"}, absent: []string{"cairn rollback"}},
		{name: "only the failed step started applying", aWith: ", reads: true", bFile: "b.fail", noReturn: 2, options: []events.Decision{events.Retry, events.Rollback, events.Abort},
			want: []string{"undo b (partially applied), in that order"}, absent: []string{"no step of this run changed anything"}},
		{name: "the failed apply said it changed nothing", aWith: ", reads: true", bFile: "b.fail", bWith: ", says_unchanged: true", noReturn: 2, options: []events.Decision{events.Retry, events.Abort},
			want: []string{"no step of this run changed anything"}, absent: []string{"cairn rollback", "partially"}},
		{name: "before the point of no return", bFile: "b.fail", noReturn: 2, options: []events.Decision{events.Retry, events.Rollback, events.Abort},
			want: []string{"undo b (partially applied), a,"}, absent: []string{"undo-other"}},
		{name: "failed in its check, before the point of no return", bFile: "b.lookalike", noReturn: 2, options: []events.Decision{events.Retry, events.Rollback, events.Abort},
			want: []string{"undo a,"}, absent: []string{"undo-other", "partially"}},
		{name: "past the point of no return", bFile: "b.fail", noReturn: 0, options: []events.Decision{events.Retry, events.Cutback, events.Abort},
			want: []string{"cut-back steps: undo (a is past the point of no return"}, absent: []string{"undo-other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, tt.bFile), nil, 0o600)
			run, cfg := tallyRunWith(t, dir, tt.aWith, `with: {file: "DIR/b"`+tt.bWith+`}`, cutbackPathYAML, journal.Policy{Interactive: true})
			cfg.Runbook.Steps[tt.noReturn].PointOfNoReturn = true
			cfg.Values = map[string]ref.Value{"path": {S: "b"}}
			done := runAsync(cfg)
			q := answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: events.Abort})
			var keys []events.Decision
			var effects []string
			for _, o := range q.Options {
				keys = append(keys, o.Key)
				effects = append(effects, o.Effect)
			}
			if strings.Join(decisionStrings(keys), " ") != strings.Join(decisionStrings(tt.options), " ") {
				t.Fatalf("options %v, want %v", keys, tt.options)
			}
			all := strings.Join(effects, "\n")
			for _, w := range tt.want {
				if !strings.Contains(all, w) {
					t.Errorf("no %q in the options:\n%s", w, all)
				}
			}
			for _, w := range tt.absent {
				if strings.Contains(all, w) {
					t.Errorf("%q offered:\n%s", w, all)
				}
			}
			if s := <-done; s != events.Aborted {
				t.Fatalf("ended %s, want aborted", s)
			}
		})
	}
}

func decisionStrings(ds []events.Decision) []string {
	var out []string
	for _, d := range ds {
		out = append(out, string(d))
	}
	return out
}

// `cairn rollback` of a run stopped before its point of no return undoes, newest first, every step
// the run applied — not the runbook's cut-back; past the point of no return it runs the cut-back.
func TestRollbackCommandUndoesStepsUntilThePointOfNoReturn(t *testing.T) {
	for _, past := range []bool{false, true} {
		t.Run(map[bool]string{false: "before", true: "past"}[past], func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "c"+".fail"), nil, 0o600)
			run, cfg := tallyRunWith(t, dir, "", `with: {file: "DIR/b"}`, cutbackPathYAML, journal.Policy{OnFailure: events.Abort, Yes: true})
			cfg.Runbook.Steps[1].PointOfNoReturn = past
			cfg.Values = map[string]ref.Value{"path": {S: "b"}}
			if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.Aborted {
				t.Fatalf("run ended %s (%v), want aborted at c", s, err)
			}
			cfg.Mode = runner.ModeRollback
			if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.RolledBack {
				t.Fatalf("rollback ended %s (%v), want rolled back", s, err)
			}
			got := counts(dir)
			undo, other := lines(filepath.Join(dir, "undo")), lines(filepath.Join(dir, "undo-other"))
			switch {
			case !past && (got != [3]int{0, 0, 0} || undo != 0):
				t.Fatalf("lines in a, b, c: %v, cut-back's: %d; want every applied step undone and no cut-back", got, undo)
			case past && (got != [3]int{1, 1, 0} || undo != 1 || other != 0):
				t.Fatalf("lines in a, b, c: %v, cut-back's: %d, off-path cut-back's: %d; want the cut-back on this run's path only", got, undo, other)
			}
			recs, _ := journal.ReadAll(run)
			for _, e := range recs {
				if e.Type == events.StepRolledBack && past {
					t.Fatalf("step %s rolled back one by one past the point of no return", e.Step)
				}
			}
		})
	}
}

// A step whose apply changed something and then failed is undone by the menu's Roll back first,
// newest, before the steps applied before it, each confirmed; the failure's state and the journal
// say it was partially applied, and the run's state shows it rolled back.
func TestRollBackUndoesTheStepThatFailedHalfWay(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.fail"), nil, 0o600)
	run, cfg := tallyRun(t, dir, "", `with: {file: "DIR/b", fail_after_work: true}`, journal.Policy{Interactive: true})
	done := runAsync(cfg)
	answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: events.Rollback})
	if got := counts(dir); got != [3]int{1, 1, 0} {
		t.Fatalf("lines in a, b, c after b failed: %v, want b's line written before it failed", got)
	}
	first := answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: true})
	second := answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: true})
	if first.Step != "b" || !strings.Contains(first.Prompt, "partially applied") || second.Step != "a" || strings.Contains(second.Prompt, "partially") {
		t.Fatalf("undo asked for %s (%q) then %s (%q), want b, partially applied, then a", first.Step, first.Prompt, second.Step, second.Prompt)
	}
	if s := <-done; s != events.RolledBack {
		t.Fatalf("ended %s, want rolled back", s)
	}
	if got := counts(dir); got != [3]int{0, 0, 0} {
		t.Fatalf("lines in a, b, c after the roll back: %v, want none (b's half-way work undone too)", got)
	}
	recs, _ := journal.ReadAll(run)
	st := events.NewRunState()
	var failState, rolledNote string
	for _, e := range recs {
		st.Apply(e)
		switch {
		case e.Type == events.StepFailed && e.Step == "b":
			failState = e.Error.State
		case e.Type == events.StepRolledBack && e.Step == "b":
			rolledNote = e.Note
		}
	}
	if !strings.Contains(failState, "applied so far: a") || !strings.Contains(failState, "partially applied") || !strings.Contains(failState, ": b") {
		t.Errorf("b's failure says the state is %q, want a applied and b partially applied", failState)
	}
	if !strings.Contains(rolledNote, "partially applied") || st.Step("b").Status != events.StatusRolledBack || st.Status != events.RolledBack {
		t.Errorf("journal: b rolled back with note %q, b %s, run %s", rolledNote, st.Step("b").Status, st.Status)
	}
}

// The failed step is known from the journal alone: a run aborted after its only changing step
// failed half-way is rolled back by `cairn rollback` (a new runner), that step undone; the step
// that only read is not.
func TestRollbackCommandUndoesTheStepThatFailedHalfWay(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.fail"), nil, 0o600)
	run, cfg := tallyRun(t, dir, ", reads: true", `with: {file: "DIR/b", fail_after_work: true}`, journal.Policy{OnFailure: events.Abort, Yes: true})
	if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.Aborted {
		t.Fatalf("run ended %s (%v), want aborted at b", s, err)
	}
	cfg.Mode = runner.ModeRollback
	if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.RolledBack {
		t.Fatalf("rollback ended %s (%v), want rolled back", s, err)
	}
	if got := counts(dir); got != [3]int{1, 0, 0} {
		t.Fatalf("lines in a, b, c after the rollback: %v, want b's undone and a's (a read-only step's) left", got)
	}
	recs, _ := journal.ReadAll(run)
	var undone []string
	for _, e := range recs {
		if e.Type == events.StepRolledBack {
			undone = append(undone, e.Step)
		}
	}
	if strings.Join(undone, " ") != "b" {
		t.Fatalf("rolled back %v, want [b]", undone)
	}
}

// A step retried after it failed half-way and then found done is this run's work, not "already
// done before this run": a later failure's roll back undoes it.
func TestRetriedHalfWayStepIsThisRunsWork(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.fail"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "c.fail"), nil, 0o600)
	run, cfg := tallyRun(t, dir, "", `with: {file: "DIR/b", fail_after_work: true}`, journal.Policy{Interactive: true})
	done := runAsync(cfg)
	answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: events.Retry}, func() { os.Remove(filepath.Join(dir, "b.fail")) })
	q := answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: events.Abort})
	if q.Step != "c" {
		t.Fatalf("second failure at %s, want c", q.Step)
	}
	var effect string
	for _, o := range q.Options {
		if o.Key == events.Rollback {
			effect = o.Effect
		}
	}
	if !strings.Contains(effect, "undo c (partially applied), b, a, in that order") {
		t.Fatalf("roll back offered as %q, want c, b and a", effect)
	}
	<-done
	recs, _ := journal.ReadAll(run)
	for _, e := range recs {
		if e.Type == events.StepVerified && e.Step == "b" && e.AlreadyDone {
			t.Fatalf("b verified as already done before this run (%q): its own apply wrote it", e.Note)
		}
	}
}

// A failed apply that says it changed nothing (steps.Unchanged) is not rolled back — by the run,
// nor by `cairn rollback` reading the journal — while the steps applied before it are.
func TestRollbackLeavesAStepThatChangedNothing(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.fail"), nil, 0o600)
	run, cfg := tallyRun(t, dir, "", `with: {file: "DIR/b", says_unchanged: true}`, journal.Policy{OnFailure: events.Abort, Yes: true})
	if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.Aborted {
		t.Fatalf("run ended %s (%v), want aborted at b", s, err)
	}
	cfg.Mode = runner.ModeRollback
	if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.RolledBack {
		t.Fatalf("rollback ended %s (%v), want rolled back", s, err)
	}
	recs, _ := journal.ReadAll(run)
	var undone []string
	for _, e := range recs {
		if e.Type == events.StepRollingBack {
			undone = append(undone, e.Step)
		}
	}
	if strings.Join(undone, " ") != "a" || counts(dir) != [3]int{0, 0, 0} {
		t.Fatalf("rolled back %v (lines %v), want a only", undone, counts(dir))
	}
}
