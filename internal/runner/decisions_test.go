package runner_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/runner"
)

// answerOpen waits until the run asks a question for purpose, then answers it over the run's
// socket as a view does (after running before, if given). It returns the question.
func answerOpen(t *testing.T, run *journal.Run, purpose events.Purpose, a events.Answer, before ...func()) events.Question {
	t.Helper()
	for {
		recs, _ := journal.ReadAll(run)
		st := events.NewRunState()
		for _, e := range recs {
			st.Apply(e)
		}
		if st.Status.Ended() {
			t.Fatalf("the run ended %s before asking a %s question", st.Status, purpose)
		}
		if q := st.Open; q != nil && q.Purpose == purpose {
			for _, f := range before {
				f()
			}
			a.QuestionID = q.ID
			rep, err := journal.Send(context.Background(), run, journal.Request{Kind: journal.AskAnswer, Answer: &a})
			if err != nil || rep.Status != journal.ReplyDone {
				t.Fatalf("answer %+v: %+v %v", a, rep, err)
			}
			return *q
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func runAsync(cfg runner.Config) <-chan events.RunStatus {
	done := make(chan events.RunStatus, 1)
	go func() {
		s, _ := runner.Run(context.Background(), cfg)
		done <- s
	}()
	return done
}

const cutbackYAML = `cutback:
  - {id: undo, kind: tally, title: Undo, with: {file: "DIR/undo"}}
`

// Each decision after a failure does what its option says, counted in the target.
func TestDecisionPaths(t *testing.T) {
	tests := []struct {
		name    string
		bWith   string
		more    string
		choice  events.Decision
		then    func(t *testing.T, run *journal.Run) // answers after the decision
		want    events.RunStatus
		abc     [3]int // lines in a, b, c at the end
		undo    int    // lines in the cut-back step's file
		options []events.Decision
	}{
		{name: "retry", choice: events.Retry, want: events.Succeeded, abc: [3]int{1, 1, 1},
			options: []events.Decision{events.Retry, events.Rollback, events.Abort}},
		{name: "skip", bWith: "allow_skip: true,", choice: events.Skip, want: events.Succeeded, abc: [3]int{1, 0, 1},
			options: []events.Decision{events.Retry, events.Rollback, events.Skip, events.Abort}},
		{name: "abort", choice: events.Abort, want: events.Aborted, abc: [3]int{1, 0, 0},
			options: []events.Decision{events.Retry, events.Rollback, events.Abort}},
		{name: "rollback", choice: events.Rollback, want: events.RolledBack, abc: [3]int{0, 0, 0},
			then: func(t *testing.T, run *journal.Run) {
				answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: true}) // b, whose apply started
				answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: true}) // a
			},
			options: []events.Decision{events.Retry, events.Rollback, events.Abort}},
		{name: "rollback declined", choice: events.Rollback, want: events.Failed, abc: [3]int{1, 0, 0},
			then: func(t *testing.T, run *journal.Run) {
				answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: false})
			},
			options: []events.Decision{events.Retry, events.Rollback, events.Abort}},
		{name: "cut back", more: cutbackYAML, choice: events.Cutback, want: events.RolledBack, abc: [3]int{1, 0, 0}, undo: 1,
			options: []events.Decision{events.Retry, events.Cutback, events.Rollback, events.Abort}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			os.WriteFile(filepath.Join(dir, "b.fail"), nil, 0o600)
			run, cfg := tallyRunWith(t, dir, "", tt.bWith+` with: {file: "DIR/b"}`, tt.more, journal.Policy{Interactive: true})
			done := runAsync(cfg)
			q := answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: tt.choice}, func() {
				if tt.choice == events.Retry {
					os.Remove(filepath.Join(dir, "b.fail")) // the cause is fixed
				}
			})
			var keys []events.Decision
			for _, o := range q.Options {
				keys = append(keys, o.Key)
			}
			if len(keys) != len(tt.options) {
				t.Fatalf("options %v, want %v", keys, tt.options)
			}
			for i := range keys {
				if keys[i] != tt.options[i] {
					t.Fatalf("options %v, want %v", keys, tt.options)
				}
			}
			if tt.then != nil {
				tt.then(t, run)
			}
			if s := <-done; s != tt.want {
				t.Fatalf("ended %s, want %s", s, tt.want)
			}
			if got := counts(dir); got != tt.abc {
				t.Fatalf("lines in a, b, c: %v, want %v", got, tt.abc)
			}
			if got := lines(filepath.Join(dir, "undo")); got != tt.undo {
				t.Fatalf("cut-back step applied %d times, want %d", got, tt.undo)
			}
		})
	}
}

// A pause asked for by a person holds the run before its next step even under --yes (no flag
// answers for the person who paused); declining to continue stops the run there.
func TestPauseWaitsForAPerson(t *testing.T) {
	for _, goOn := range []bool{true, false} {
		dir := t.TempDir()
		run, cfg := tallyRun(t, dir, `, hold: before-apply`, `with: {file: "DIR/b"}`, journal.Policy{Yes: true})
		done := runAsync(cfg)
		for {
			recs, _ := journal.ReadAll(run)
			if seen(events.StepApplying, "a")(recs) {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
		rep, err := journal.Send(context.Background(), run, journal.Request{Kind: journal.AskPause})
		if err != nil || rep.Status != journal.ReplyDone {
			t.Fatalf("pause: %+v %v", rep, err)
		}
		os.WriteFile(filepath.Join(dir, "a.release"), nil, 0o600)
		answerOpen(t, run, events.PurposeResume, events.Answer{Yes: goOn})
		s := <-done
		want, abc := events.Succeeded, [3]int{1, 1, 1}
		if !goOn {
			want, abc = events.Aborted, [3]int{1, 0, 0}
		}
		if s != want || counts(dir) != abc {
			t.Fatalf("continue=%v: ended %s with lines %v, want %s %v", goOn, s, counts(dir), want, abc)
		}
	}
}

// An approval counts only from someone other than the engineer who started or drives the run:
// the starter's own approval is refused, another person's lets the step go ahead.
func TestApprovalFromAnotherPerson(t *testing.T) {
	dir := t.TempDir()
	run, cfg := tallyRun(t, dir, "", `approvals: 2, destructive: true, with: {file: "DIR/b"}`, journal.Policy{Yes: true})
	me := os.Getuid()
	cfg.Meta.StarterUID, cfg.Actor.UID = me, me
	done := runAsync(cfg)
	var q *events.Question
	for q == nil {
		recs, _ := journal.ReadAll(run)
		if o := openQuestion(recs); o != nil && o.Purpose == events.PurposeApproval {
			q = o
		}
		time.Sleep(5 * time.Millisecond)
	}
	rep, err := journal.Send(context.Background(), run, journal.Request{Kind: journal.AskAnswer, Answer: &events.Answer{QuestionID: q.ID, Choice: events.Approve}})
	if err != nil || rep.Status != journal.ReplyRefused {
		t.Fatalf("the starter's own approval: %+v %v", rep, err)
	}
	if counts(dir) != [3]int{1, 0, 0} {
		t.Fatal("the step ran on the starter's approval")
	}
	answerOpen(t, run, events.PurposeApproval, events.Answer{Choice: events.Refuse})
	if s := <-done; s != events.Aborted {
		t.Fatalf("ended %s", s)
	}
	cfg.Meta.StarterUID, cfg.Actor.UID = me+1000, me+1000
	done = runAsync(cfg) // resume, started and driven by another person: this process's uid may approve
	for recs, _ := journal.ReadAll(run); !seen(events.RunResumed, "")(recs); recs, _ = journal.ReadAll(run) {
		time.Sleep(5 * time.Millisecond)
	}
	answerOpen(t, run, events.PurposeApproval, events.Answer{Choice: events.Approve})
	if s := <-done; s != events.Succeeded || counts(dir) != [3]int{1, 1, 1} {
		t.Fatalf("after another person's approval: %s, lines %v", s, counts(dir))
	}
}

func openQuestion(recs []events.Event) *events.Question {
	st := events.NewRunState()
	for _, e := range recs {
		st.Apply(e)
	}
	return st.Open
}

// A refused approval stops the run before the step; the step never runs.
func TestApprovalRefused(t *testing.T) {
	dir := t.TempDir()
	run, cfg := tallyRun(t, dir, "", `approvals: 2, destructive: true, with: {file: "DIR/b"}`, journal.Policy{Yes: true})
	done := runAsync(cfg)
	answerOpen(t, run, events.PurposeApproval, events.Answer{Choice: events.Refuse})
	if s := <-done; s != events.Aborted || counts(dir) != [3]int{1, 0, 0} {
		t.Fatalf("ended %s with lines %v", s, counts(dir))
	}
}

// A blocked check fails its step with the check's own diagnostic: its reason as the summary, its
// fix as what to do next, and the run's state; nothing of the step is applied.
func TestBlockedStepFailsWithItsFix(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "b.lookalike"), nil, 0o600)
	run, cfg := tallyRun(t, dir, "", `with: {file: "DIR/b"}`, journal.Policy{Interactive: true})
	done := runAsync(cfg)
	q := answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: events.Abort})
	if s := <-done; s != events.Aborted {
		t.Fatalf("ended %s, want aborted", s)
	}
	recs, _ := journal.ReadAll(run)
	var failed *events.Event
	for i := range recs {
		if recs[i].Type == events.StepFailed {
			failed = &recs[i]
		}
	}
	b := filepath.Join(dir, "b")
	want := events.Diag{Summary: "step b is blocked: " + b + " is another run's", Detail: b + " is another run's",
		State: "applied so far: a", Next: "move " + b + ".lookalike aside"}
	if failed == nil || failed.Step != "b" || failed.Phase != "check" || failed.Error == nil || *failed.Error != want {
		t.Fatalf("the failure: %+v, want step b failed in check with %+v", failed, want)
	}
	if q.Prompt != want.Summary || q.Detail != want.Detail {
		t.Fatalf("the decision asked %q (%q), want the failure's summary and detail", q.Prompt, q.Detail)
	}
	if got := counts(dir); got != [3]int{1, 0, 0} {
		t.Fatalf("lines in a, b, c: %v, want only a applied", got)
	}
}

// An error a step's apply or rollback returns with its fix (a *steps.FixError) fails the step with
// that fix as what to do next — in place of the generic advice, and not again in the error's text.
func TestFailureNextIsTheErrorsFix(t *testing.T) {
	dir := t.TempDir()
	b := filepath.Join(dir, "b")
	os.WriteFile(b+".fail", nil, 0o600)
	os.WriteFile(filepath.Join(dir, "a.stuck"), nil, 0o600)
	run, cfg := tallyRun(t, dir, "", `with: {file: "DIR/b"}`, journal.Policy{Interactive: true})
	done := runAsync(cfg)
	answerOpen(t, run, events.PurposeFailure, events.Answer{Choice: events.Rollback})
	answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: true}) // b, whose apply started
	answerOpen(t, run, events.PurposeUndoStep, events.Answer{Yes: true}) // a
	if s := <-done; s != events.Failed {
		t.Fatalf("ended %s, want failed (a's rollback is stuck)", s)
	}
	recs, _ := journal.ReadAll(run)
	var got []events.Diag
	for _, e := range recs {
		if (e.Type == events.StepFailed || e.Type == events.StepRollbackFailed) && e.Error != nil {
			got = append(got, *e.Error)
		}
	}
	a := filepath.Join(dir, "a")
	want := []events.Diag{
		{Summary: "step b failed in apply", Detail: "told to fail (" + b + ".fail exists)", State: "applied so far: a; partially applied (apply started, not verified): b", Next: "rm " + b + ".fail"},
		{Summary: "rollback of a failed", Detail: a + " is stuck", State: "applied so far: a",
			Next: "rm " + a + ".stuck; then `cairn rollback " + run.ID + "` to continue walking back"},
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("the failures:\n%+v\nwant\n%+v", got, want)
	}
}
