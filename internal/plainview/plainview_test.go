package plainview

import (
	"bufio"
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// An interrupted run is shown as such, with the step in flight and the command that continues it;
// Render returns Interrupted, never a success.
func TestInterruptedRunLines(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	ch := make(chan events.Event, 8)
	for _, e := range []events.Event{
		{Seq: 1, Time: t0, Type: events.RunStarted, Run: &events.RunInfo{ID: "r1", Runbook: "rb", Steps: []events.StepInfo{{ID: "b", Title: "B"}}}},
		{Seq: 2, Time: t0, Type: events.StepApplying, Step: "b"},
		{Seq: 3, Time: t0.Add(time.Minute), Type: events.StepInterrupted, Step: "b", Phase: "apply", Note: "the runner was stopped (terminated signal received) while b was applying"},
		{Seq: 4, Time: t0.Add(time.Minute), Type: events.RunFinished, Status: events.Interrupted, Note: "the runner was stopped"},
	} {
		ch <- e
	}
	close(ch)
	var out bytes.Buffer
	v := &View{Out: &out, RunID: "r1", ReadOnly: true}
	if s := v.Render(context.Background(), ch); s != events.Interrupted {
		t.Fatalf("Render returned %q", s)
	}
	for _, want := range []string{
		"2026-12-04T03:01:00Z  [b] INTERRUPTED (apply): the runner was stopped (terminated signal received) while b was applying",
		"2026-12-04T03:01:00Z  run INTERRUPTED — the runner was stopped",
		"next: `cairn resume r1` continues",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("missing %q in:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "SUCCEEDED") {
		t.Errorf("an interrupted run shown as a success:\n%s", out.String())
	}
}

// A blocked check and the failure it makes print through the one formatter: the reason on the
// check's line, the fix as its "next:" line; the failure's why, state and next each on their own.
func TestBlockedCheckLines(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	ch := make(chan events.Event, 8)
	for _, e := range []events.Event{
		{Seq: 1, Time: t0, Type: events.RunStarted, Run: &events.RunInfo{ID: "r1", Runbook: "rb", Steps: []events.StepInfo{{ID: "b", Title: "B"}}}},
		{Seq: 2, Time: t0, Type: events.StepChecked, Step: "b", Check: &events.CheckInfo{State: "blocked", Reason: "snapshot s1 is another instance's", Fix: "choose another snapshot name"}},
		{Seq: 3, Time: t0, Type: events.StepFailed, Step: "b", Phase: "check", Error: &events.Diag{Summary: "step b is blocked: snapshot s1 is another instance's",
			Detail: "snapshot s1 is another instance's", State: "no step of this run has changed anything yet", Next: "choose another snapshot name"}},
		{Seq: 4, Time: t0, Type: events.RunFinished, Status: events.Failed},
	} {
		ch <- e
	}
	close(ch)
	var out bytes.Buffer
	v := &View{Out: &out, RunID: "r1", ReadOnly: true}
	v.Render(context.Background(), ch)
	want := strings.Join([]string{
		"2026-12-04T03:00:00Z  [b] check: blocked — snapshot s1 is another instance's",
		"2026-12-04T03:00:00Z    next: choose another snapshot name",
		"2026-12-04T03:00:00Z  [b] FAILED (check): step b is blocked: snapshot s1 is another instance's",
		"2026-12-04T03:00:00Z    why: snapshot s1 is another instance's",
		"2026-12-04T03:00:00Z    state: no step of this run has changed anything yet",
		"2026-12-04T03:00:00Z    next: choose another snapshot name",
	}, "\n")
	if !strings.Contains(out.String(), want) {
		t.Errorf("want\n%s\nin:\n%s", want, out.String())
	}
}

// A step's results print as the report lists them: a warning marked ⚠, a verify's line after
// "verify:"; a check's own line and a "still waiting" line as they were said.
func TestResultLinesAsTheReportSaysThem(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	info := func(text string) events.Event {
		return events.Event{Time: t0, Type: events.OutputLine, Step: "b", Line: &events.Line{Stream: "info", Text: text}}
	}
	ch := make(chan events.Event, 16)
	for _, e := range []events.Event{
		{Time: t0, Type: events.RunStarted, Run: &events.RunInfo{ID: "r1", Runbook: "rb", Steps: []events.StepInfo{{ID: "b", Title: "B"}}}},
		{Time: t0, Type: events.StepChecking, Step: "b"},
		info("warning: said by the check"),
		{Time: t0, Type: events.StepApplying, Step: "b"},
		info("still waiting for 1 subscription [3s elapsed]"),
		info("warning: DDL is not replicated"),
		{Time: t0, Type: events.StepVerifying, Step: "b"},
		info("schemas of 2 databases: the same"),
	} {
		ch <- e
	}
	close(ch)
	var out bytes.Buffer
	(&View{Out: &out, RunID: "r1", ReadOnly: true}).Render(context.Background(), ch)
	want := "[b] | warning: said by the check\n" +
		"2026-12-04T03:00:00Z  [b] applying\n" +
		"2026-12-04T03:00:00Z  [b] | still waiting for 1 subscription [3s elapsed]\n" +
		"2026-12-04T03:00:00Z  [b] | ⚠ warning: DDL is not replicated\n" +
		"2026-12-04T03:00:00Z  [b] | verify: schemas of 2 databases: the same\n"
	if !strings.HasSuffix(out.String(), want) {
		t.Fatalf("got:\n%s\nwant it to end with:\n%s", out.String(), want)
	}
}

// Attaching to a run replays its history: a question answered before the view opened is shown
// with its answer and never asked again; only the question still open is asked, once, and the
// answer typed goes to it.
func TestReplayAsksOnlyTheOpenQuestion(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	who := &events.Actor{User: "ana", Host: "h"}
	ch := make(chan events.Event, 8)
	for _, e := range []events.Event{
		{Seq: 1, Time: t0, Type: events.RunStarted, Run: &events.RunInfo{ID: "r1", Runbook: "rb", Steps: []events.StepInfo{{ID: "a", Title: "A"}, {ID: "b", Title: "B"}}}},
		{Seq: 2, Time: t0, Type: events.QuestionAsked, Step: "a", Question: &events.Question{ID: "q1", Kind: events.AskConfirm, Prompt: "Stop the app?"}},
		{Seq: 3, Time: t0, Type: events.QuestionAnswered, Step: "a", Answer: &events.Answer{QuestionID: "q1", Yes: true, By: who}},
		{Seq: 4, Time: t0, Type: events.QuestionAsked, Step: "b", Question: &events.Question{ID: "q2", Kind: events.AskTyped, Prompt: "Swap app-db?", Expect: "app-db"}},
	} {
		ch <- e
	}
	answers := make(chan events.Answer, 2)
	var out bytes.Buffer
	v := &View{Out: &out, RunID: "r1", ReplayUntil: 4, In: bufio.NewReader(strings.NewReader("app-db\n")),
		Answer: func(_ context.Context, a events.Answer) error { answers <- a; return nil }}
	done := make(chan struct{})
	go func() { v.Render(context.Background(), ch); close(done) }()
	a := <-answers
	close(ch)
	<-done
	if a.QuestionID != "q2" || a.Value != "app-db" {
		t.Fatalf("the answer typed went to %+v, want q2 = app-db", a)
	}
	got := out.String()
	for _, want := range []string{"[a] ? Stop the app?", `[a] answered "yes" by ana@h`, "[b] ? Swap app-db?", `type "app-db" to go on`} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	if strings.Contains(got, "yes/no:") || strings.Count(got, "to go on") != 1 {
		t.Errorf("an answered question is asked again, or the open one twice:\n%s", got)
	}
}

// The outputs of a step found done, read from the target by a resume, are not an apply: the line
// says the step was found done, never "applied in 0s".
func TestFoundDoneIsNotAnApply(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 3, 0, 0, 0, time.UTC)
	ch := make(chan events.Event, 4)
	ch <- events.Event{Seq: 1, Time: t0, Type: events.RunStarted, Run: &events.RunInfo{ID: "r1", Runbook: "rb", Steps: []events.StepInfo{{ID: "b", Title: "B"}}}}
	ch <- events.Event{Seq: 2, Time: t0, Type: events.StepApplied, Step: "b", AlreadyDone: true, Outputs: map[string]string{"id": "snap-1"}}
	close(ch)
	var out bytes.Buffer
	(&View{Out: &out, RunID: "r1", ReadOnly: true}).Render(context.Background(), ch)
	if got := out.String(); !strings.Contains(got, "[b] found done: outputs read from the target, nothing applied (id=snap-1)") || strings.Contains(got, "applied in") {
		t.Fatalf("a step found done is shown as applied:\n%s", got)
	}
}
