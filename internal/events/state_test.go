package events

import (
	"testing"
	"time"
)

func TestRunStateFolds(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC)
	recs := []Event{
		{Seq: 1, Type: RunStarted, Time: t0, Run: &RunInfo{ID: "r", Steps: []StepInfo{{ID: "a"}, {ID: "dump"}, {ID: "c"}}}},
		{Seq: 2, Type: StepChecking, Step: "a", Time: t0},
		{Seq: 3, Type: StepChecked, Step: "a", Check: &CheckInfo{State: "ready"}},
		{Seq: 4, Type: StepApplying, Step: "a"},
		{Seq: 5, Type: StepApplied, Step: "a", Elapsed: 2 * time.Second, Outputs: map[string]string{"arn": "x"}},
		{Seq: 6, Type: StepVerified, Step: "a", Elapsed: time.Second},
		{Seq: 7, Type: StepApplying, Step: "dump[app]"},
		{Seq: 8, Type: Progressed, Step: "dump[app]", Progress: &Progress{Done: 5, Total: 10}},
		{Seq: 9, Type: StepFailed, Step: "dump[app]", Error: &Diag{Summary: "boom"}},
		{Seq: 10, Type: QuestionAsked, Step: "dump[app]", Question: &Question{ID: "q1", Kind: AskDecision}},
	}
	s := NewRunState()
	for _, e := range recs {
		s.Apply(e)
	}
	a, d := s.Step("a"), s.Step("dump[app]")
	if a.Status != StatusDone || a.Elapsed != 3*time.Second || a.Outputs["arn"] != "x" {
		t.Fatalf("a = %+v", a)
	}
	if d.Status != StatusFailed || d.Item != "app" || d.Error.Summary != "boom" || d.Progress.Done != 5 {
		t.Fatalf("dump = %+v", d)
	}
	if s.Open == nil || s.Open.ID != "q1" || s.Current() != d {
		t.Fatalf("open %v current %v", s.Open, s.Current())
	}
	s.Apply(Event{Seq: 11, Type: QuestionAnswered, Answer: &Answer{QuestionID: "q1", Choice: Abort}})
	s.Apply(Event{Seq: 12, Type: RunFinished, Status: "aborted"})
	if s.Open != nil || s.Status != "aborted" || s.LastSeq != 12 {
		t.Fatalf("after finish: open %v status %q seq %d", s.Open, s.Status, s.LastSeq)
	}
	s.Apply(Event{Seq: 13, Type: RunResumed})
	if s.Status != "" || s.Resumes != 1 {
		t.Fatal("a resumed run is not finished")
	}
	if c := s.Counts(); c[StatusDone] != 1 || c[StatusFailed] != 1 || c[StatusPending] != 1 {
		t.Fatalf("counts %v", c)
	}
}

// An interrupted run folds to Interrupted with the step in flight marked, its question closed; a
// resume clears the final status until the new runner ends it.
func TestRunStateFoldsAnInterruption(t *testing.T) {
	recs := []Event{
		{Seq: 1, Type: RunStarted, Run: &RunInfo{ID: "r", Steps: []StepInfo{{ID: "a"}, {ID: "b"}}}},
		{Seq: 2, Type: StepVerified, Step: "a"},
		{Seq: 3, Type: StepApplying, Step: "b"},
		{Seq: 4, Type: QuestionAsked, Step: "b", Question: &Question{ID: "q1", Kind: AskApproval, Purpose: PurposeApproval}},
		{Seq: 5, Type: StepInterrupted, Step: "b", Phase: "confirm", Note: "stopped"},
		{Seq: 6, Type: RunFinished, Status: Interrupted, Note: "the runner was stopped"},
	}
	s := NewRunState()
	for _, e := range recs {
		s.Apply(e)
	}
	if s.Status != Interrupted || !s.Status.Ended() || !s.Status.Resumable() || s.Open != nil || s.Step("b").Status != StatusInterrupted {
		t.Fatalf("status %q, open %v, b %q", s.Status, s.Open, s.Step("b").Status)
	}
	s.Apply(Event{Seq: 7, Type: RunResumed})
	if s.Status.Ended() {
		t.Fatalf("after a resume the run still reads %q", s.Status)
	}
	if Succeeded.Resumable() || RolledBack.Resumable() || !Failed.Resumable() || !Aborted.Resumable() {
		t.Fatal("Resumable is wrong")
	}
}

func TestETA(t *testing.T) {
	t0 := time.Date(2026, 11, 26, 2, 14, 0, 0, time.UTC)
	s := NewRunState()
	s.Apply(Event{Type: RunStarted, Time: t0, Run: &RunInfo{ID: "r-1", Steps: []StepInfo{{ID: "a"}, {ID: "b"}, {ID: "c"}}}})
	s.Apply(Event{Type: StepChecking, Step: "a", Time: t0})
	s.Apply(Event{Type: StepApplying, Step: "a", Time: t0})
	tm := map[string]time.Duration{"a": 3 * time.Minute, "b": 5 * time.Minute}
	// a: 2m left, b: 5m, c: untimed
	if eta, ok := s.ETA(tm, t0.Add(time.Minute)); !ok || !eta.Equal(t0.Add(8*time.Minute)) {
		t.Fatalf("ETA = %v %v", eta, ok)
	}
	// a step overrunning its timing adds nothing, never a negative
	if eta, _ := s.ETA(tm, t0.Add(10*time.Minute)); !eta.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("ETA of an overrun = %v", eta)
	}
	if _, ok := s.ETA(nil, t0); ok {
		t.Fatal("an ETA without timings")
	}
	s.Apply(Event{Type: RunFinished, Status: Succeeded, Time: t0})
	if _, ok := s.ETA(tm, t0); ok {
		t.Fatal("an ETA of an ended run")
	}
}

// A runner that died (no run.finished) in a step's apply, then a resume: the death is named with
// the step and the dead runner's last record, and the apply time before it — to that last record,
// a progress line — is kept beside the resumed runner's; a runner that finished (interrupted) did not die.
func TestRunStateFoldsADeath(t *testing.T) {
	t0 := time.Date(2026, 12, 4, 2, 0, 0, 0, time.UTC)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	recs := []Event{
		{Seq: 1, Type: RunStarted, Time: at(0), Run: &RunInfo{ID: "r", Steps: []StepInfo{{ID: "a"}, {ID: "wait"}}}},
		{Seq: 2, Type: StepApplying, Step: "a", Time: at(0)},
		{Seq: 3, Type: StepVerified, Step: "a", Time: at(1), Elapsed: time.Second},
		{Seq: 4, Type: StepChecking, Step: "wait", Time: at(1)},
		{Seq: 5, Type: StepApplying, Step: "wait", Time: at(2)},
		{Seq: 6, Type: Progressed, Step: "wait", Time: at(10.1), Progress: &Progress{Done: 1, Total: 4}},
		{Seq: 7, Type: RunResumed, Time: at(30)}, // the runner was SIGKILLed after its progress line
		{Seq: 8, Type: StepChecking, Step: "wait", Time: at(30)},
		{Seq: 9, Type: StepApplying, Step: "wait", Time: at(31)},
		{Seq: 10, Type: StepApplied, Step: "wait", Time: at(43.3), Elapsed: Duration(12300 * time.Millisecond)},
		{Seq: 11, Type: StepVerifying, Step: "wait", Time: at(43.3)},
		{Seq: 12, Type: StepVerified, Step: "wait", Time: at(43.3)},
		{Seq: 13, Type: RunFinished, Time: at(44), Status: Interrupted},
		{Seq: 14, Type: RunResumed, Time: at(50)}, // after a run.finished: no death
	}
	s := NewRunState()
	for _, e := range recs {
		s.Apply(e)
	}
	if len(s.Deaths) != 1 {
		t.Fatalf("deaths: %+v, want the one before the first resume", s.Deaths)
	}
	d, w := s.Deaths[0], s.Step("wait")
	if d.Step != "wait" || d.Phase != StatusRunning || !d.LastHeard.Equal(at(10.1)) || !d.Resumed.Equal(at(30)) || d.Lost != 8100*time.Millisecond {
		t.Errorf("death: %+v", d)
	}
	if w.Elapsed != 12300*time.Millisecond || w.Lost != 8100*time.Millisecond || !w.FirstApplied.Equal(at(2)) || !w.Finished.Equal(at(43.3)) {
		t.Errorf("wait: elapsed %s lost %s first %s finished %s", w.Elapsed, w.Lost, w.FirstApplied, w.Finished)
	}
	if a := s.Step("a"); a.Lost != 0 {
		t.Errorf("a finished before the death: lost %s", a.Lost)
	}
}
