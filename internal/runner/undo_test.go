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
// step that only reads is not undone), the step-by-step roll back before the point of no return
// (the cut-back is for after it), and past it the cut-back listing only its steps on this run's path.
func TestFailureMenuOffersOnlyWhatApplies(t *testing.T) {
	tests := []struct {
		name, aWith  string
		noReturn     int // the step marked point_of_no_return: 0 a, 2 c (never reached)
		options      []events.Decision
		want, absent []string // in the options' effects
	}{
		{name: "nothing changed", aWith: ", reads: true", noReturn: 2, options: []events.Decision{events.Retry, events.Abort},
			want: []string{"no step of this run changed anything"}, absent: []string{"cairn rollback"}},
		{name: "before the point of no return", noReturn: 2, options: []events.Decision{events.Retry, events.Rollback, events.Abort},
			want: []string{"undo a,"}, absent: []string{"undo-other"}},
		{name: "past the point of no return", noReturn: 0, options: []events.Decision{events.Retry, events.Cutback, events.Abort},
			want: []string{"cut-back steps: undo (a is past the point of no return"}, absent: []string{"undo-other"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "b.fail"), nil, 0o600)
			run, cfg := tallyRunWith(t, dir, tt.aWith, `with: {file: "DIR/b"}`, cutbackPathYAML, journal.Policy{Interactive: true})
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
