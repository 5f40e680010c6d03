package tui_test

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui"
)

// atQuestion: the snapshot is done and the runner asks q before step.
func atQuestion(f *fakeSource, step string, q events.Question) {
	f.emit(0, events.Event{Type: events.RunStarted, Run: sampleRunInfo(f.id)})
	f.emit(1, events.Event{Type: events.StepChecking, Step: "snapshot"})
	f.emit(2, events.Event{Type: events.StepApplying, Step: "snapshot"})
	f.emit(40, events.Event{Type: events.StepVerified, Step: "snapshot", Elapsed: 38 * time.Second})
	f.emit(41, events.Event{Type: events.StepChecking, Step: step})
	f.emit(42, events.Event{Type: events.StepChecked, Step: step, Check: &events.CheckInfo{State: "ready", Change: "change", Reason: "app-db is unencrypted"}})
	q.Step = step
	f.emit(42, events.Event{Type: events.QuestionAsked, Step: step, Question: &q})
}

// answered makes the fake runner record each answer and go on.
func answered(f *fakeSource, a events.Answer) {
	f.emit(50, events.Event{Type: events.QuestionAnswered, Answer: &a})
}

var questions = []struct {
	name, step string
	q          events.Question
	wait       string
	keys       []string
	want       events.Answer
}{
	{"confirm", "stop-app", events.Question{ID: "q1", Kind: events.AskConfirm, Prompt: "Stop the application on app-1?", Detail: "Users see the maintenance page until step 5 verifies."},
		"Stop the application on app-1?", []string{"y"}, events.Answer{QuestionID: "q1", Yes: true}},
	{"typed", "swap", events.Question{ID: "q2", Kind: events.AskTyped, Prompt: "Restore and swap app-db", Detail: "The old instance is renamed app-db-old.", Expect: "app-db"},
		"to confirm", nil, events.Answer{}},
	{"decision", "copy", events.Question{ID: "q3", Kind: events.AskDecision, Prompt: "Copy the snapshot failed: KMS key alias/app-db is disabled", Options: decisionOptions},
		"Roll back", []string{"down", "enter"}, events.Answer{QuestionID: "q3", Choice: "rollback"}},
	{"checklist", "stop-app", events.Question{ID: "q4", Kind: events.AskChecklist, Prompt: "Before stopping the application", Items: []string{"status page says maintenance", "on-call knows", "traffic drained from the load balancer"}},
		"on-call knows", []string{"space", "down", "space", "down", "space", "enter"}, events.Answer{QuestionID: "q4", Yes: true}},
	{"approval", "swap", events.Question{ID: "q5", Kind: events.AskApproval, Prompt: "A second engineer must approve the swap", Approvals: 1, Starter: "alice"},
		"more approval", nil, events.Answer{}},
	{"go-no-go", "swap", events.Question{ID: "q6", Kind: events.AskGoNoGo, Prompt: "The ETA passes the window's end by 12m: go or no-go?", Detail: "No-go stops before the first destructive step; nothing is changed."},
		"No-go", []string{"left", "enter"}, events.Answer{QuestionID: "q6", Yes: true, Choice: "go"}},
	{"secret", "verify", events.Question{ID: "q7", Kind: events.AskInput, Prompt: "Password for app_user", Secret: true},
		"never shown", []string{"s", "3", "c", "r", "e", "t", "enter"}, events.Answer{QuestionID: "q7", Yes: true, Value: "s3cret"}},
}

var decisionOptions = []events.Option{
	{Key: events.Retry, Label: "Retry", Effect: "check and apply step 2 again"},
	{Key: events.Rollback, Label: "Roll back", Effect: "undo steps 2, 1 in that order, each confirmed"},
	{Key: events.Abort, Label: "Abort", Effect: "stop here; nothing else changes; cairn resume later"},
}

func TestPrompts(t *testing.T) {
	for _, qc := range questions {
		for _, sz := range sizes {
			t.Run(qc.name+"/"+sz.name, func(t *testing.T) {
				f := newFake("r-20261126-0214")
				atQuestion(f, qc.step, qc.q)
				tm := start(t, tui.NewRunView(deps(), f, opts()...), sz.w, sz.h)
				want := []string{qc.wait}
				if qc.q.Kind != events.AskApproval {
					want = append(want, readyCue)
				}
				golden(t, waitScreen(t, tm, want...))
				if qc.keys != nil {
					for _, k := range qc.keys {
						if k == "left" {
							tm.Type("h")
							continue
						}
						tm.Send(key(k))
					}
					got := waitAnswers(t, f, 1)
					if got[0] != qc.want {
						t.Fatalf("answer = %+v, want %+v", got[0], qc.want)
					}
				}
				if qc.name == "secret" {
					s := screen(t, tm)
					if strings.Contains(s, "s3cret") {
						t.Fatalf("the secret was echoed:\n%s", s)
					}
				}
				stop(t, tm)
			})
		}
	}
}

func TestTypedConfirmationWrongThenRight(t *testing.T) {
	f := newFake("r-1")
	q := events.Question{ID: "q2", Kind: events.AskTyped, Prompt: "Restore and swap app-db", Expect: "app-db"}
	atQuestion(f, "swap", q)
	f.react = answered
	tm := start(t, tui.NewRunView(deps(), f, opts()...), 80, 24)
	waitScreen(t, tm, "Type app-db to confirm", readyCue)
	tm.Type("app-dq")
	tm.Send(key("enter"))
	s := waitScreen(t, tm, `"app-dq" is not "app-db"`)
	golden(t, s)
	if n := len(f.Answers()); n != 0 {
		t.Fatalf("a wrong value was answered: %v", f.Answers())
	}
	tm.Type("app-db")
	tm.Send(key("enter"))
	got := waitAnswers(t, f, 1)
	if want := (events.Answer{QuestionID: "q2", Yes: true, Value: "app-db"}); got[0] != want {
		t.Fatalf("answer = %+v, want %+v", got[0], want)
	}
	stop(t, tm)
}

func TestFailureThenRollBack(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFake("r-20261126-0214")
			f.emit(0, events.Event{Type: events.RunStarted, Run: sampleRunInfo(f.id)})
			f.emit(1, events.Event{Type: events.StepChecking, Step: "snapshot"})
			f.emit(2, events.Event{Type: events.StepApplying, Step: "snapshot"})
			f.emit(40, events.Event{Type: events.StepVerified, Step: "snapshot", Elapsed: 38 * time.Second})
			f.emit(41, events.Event{Type: events.StepChecking, Step: "copy"})
			f.emit(42, events.Event{Type: events.StepApplying, Step: "copy"})
			f.emit(43, events.Event{Type: events.OutputLine, Step: "copy", Line: &events.Line{Text: "CopyDBSnapshot: KMSKeyNotAccessibleFault"}})
			f.emit(44, events.Event{Type: events.StepFailed, Step: "copy", Phase: "apply", Error: &events.Diag{
				Summary: "copy snapshot app-db-pre-kms: KMS key alias/app-db is disabled",
				Detail:  "AWS refused the copy: KMSKeyNotAccessibleFault.", State: "snapshot app-db-pre-kms exists; nothing else changed",
				Next: "enable the key, then retry"}})
			f.emit(44, events.Event{Type: events.QuestionAsked, Step: "copy", Question: &events.Question{ID: "q3", Kind: events.AskDecision, Step: "copy",
				Prompt: "Step 2 failed: KMS key alias/app-db is disabled", Options: decisionOptions}})
			f.react = func(f *fakeSource, a events.Answer) {
				answered(f, a)
				if a.Choice != events.Rollback {
					return
				}
				f.emit(60, events.Event{Type: events.StepRollingBack, Step: "copy"})
				f.emit(61, events.Event{Type: events.StepRolledBack, Step: "copy"})
				f.emit(62, events.Event{Type: events.StepRollingBack, Step: "snapshot"})
				f.emit(63, events.Event{Type: events.OutputLine, Step: "snapshot", Line: &events.Line{Text: "DeleteDBSnapshot app-db-pre-kms"}})
				f.emit(70, events.Event{Type: events.StepRolledBack, Step: "snapshot"})
				f.emit(70, events.Event{Type: events.RunFinished, Status: "rolled-back"})
				close(f.ch)
			}
			tm := start(t, tui.NewRunView(deps(), f, opts()...), sz.w, sz.h)
			s := waitScreen(t, tm, "Roll back", "undo steps 2, 1", readyCue)
			if !strings.Contains(s, "✗ Copy the snap") {
				t.Fatalf("failed step not marked:\n%s", s)
			}
			goldenAs(t, "failed", s)
			tm.Send(key("down"))
			tm.Send(key("enter"))
			got := waitAnswers(t, f, 1)
			if got[0].Choice != "rollback" || got[0].QuestionID != "q3" {
				t.Fatalf("answer = %+v, want choice rollback", got[0])
			}
			goldenAs(t, "rolled-back", waitScreen(t, tm, "run rolled back"))
			stop(t, tm)
		})
	}
}

func TestReadOnlyAnswersNothing(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFake("r-20261126-0214")
			atQuestion(f, "stop-app", events.Question{ID: "q1", Kind: events.AskConfirm, Prompt: "Stop the application on app-1?"})
			d := deps()
			d.ReadOnly = true
			tm := start(t, tui.NewRunView(d, f, opts()...), sz.w, sz.h)
			waitScreen(t, tm, "Stop the application on app-1?")
			tm.Type("yn")
			tm.Send(key("enter"))
			tm.Type("n")
			s := waitScreen(t, tm, "following read-only")
			golden(t, s)
			time.Sleep(50 * time.Millisecond)
			if a := f.Answers(); len(a) != 0 {
				t.Fatalf("read-only answered: %v", a)
			}
			tm.Type("q") // read-only leaves at once
			fm := tm.FinalModel(t, teatestFinal()).(probe).Model
			if got := fm.LeaveMessage(); got != "stopped following; the run goes on: cairn follow r-20261126-0214" {
				t.Fatalf("LeaveMessage = %q", got)
			}
		})
	}
}

func TestQuitDuringStepAsksFirst(t *testing.T) {
	f := newFake("r-20261126-0214")
	scriptRunning(f, 3)
	tm := start(t, tui.NewRunView(deps(), f, opts()...), 80, 24)
	waitScreen(t, tm, "42%")
	tm.Type("q")
	waitScreen(t, tm, "Leave cairn?")
	tm.Type("n")
	s := waitScreen(t, tm, "42%")
	if strings.Contains(s, "Leave cairn?") {
		t.Fatal("n did not cancel leaving")
	}
	tm.Send(key("ctrl+c"))
	golden(t, waitScreen(t, tm, "Leave cairn?", "cairn attach r-20261126-0214"))
	tm.Type("y")
	fm := tm.FinalModel(t, teatestFinal()).(probe).Model
	if got := fm.LeaveMessage(); got != "the run goes on in the background: cairn attach r-20261126-0214" {
		t.Fatalf("LeaveMessage = %q", got)
	}
}
