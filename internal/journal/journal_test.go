package journal

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

func newRun(t *testing.T) *Run {
	t.Helper()
	state := t.TempDir()
	r, err := Create(state, Meta{ID: NewID(time.Now()), Runbook: "rb", Params: map[string]string{"a": "1"}}, []byte("schema: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPrivateByDefault(t *testing.T) {
	r := newRun(t)
	st, _ := os.Stat(r.Dir)
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("run dir mode %v", st.Mode().Perm())
	}
	for _, f := range []string{MetaFile, RunbookFile} {
		st, _ := os.Stat(r.Path(f))
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v", f, st.Mode().Perm())
		}
	}
}

func TestAppendSequencesAndSurvivesATornLine(t *testing.T) {
	r := newRun(t)
	w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(events.Event{Type: events.RunStarted})
	w.Append(events.Event{Type: events.OutputLine, Line: &events.Line{Text: "x"}})
	w.Append(events.Event{Type: events.StepApplying, Step: "a"})
	w.Close()
	// a crash mid-write leaves half a record
	f, _ := os.OpenFile(r.Path(JournalFile), os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"v":1,"seq":4,"type":"step.app`)
	f.Close()
	recs, err := ReadAll(r)
	if err != nil || len(recs) != 2 || recs[0].Seq != 1 || recs[1].Seq != 3 {
		t.Fatalf("journal: %+v %v", recs, err)
	}
	out, _ := ReadOutput(r)
	if len(out) != 1 || out[0].Seq != 2 {
		t.Fatalf("output log: %+v", out)
	}
	// the next writer continues the sequence
	w, err = OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	e, _ := w.Append(events.Event{Type: events.RunResumed})
	if e.Seq != 4 || e.V != events.Version {
		t.Fatalf("resumed record %+v", e)
	}
}

func TestOneWriterAtATime(t *testing.T) {
	r := newRun(t)
	w, err := OpenWriter(r, LockInfo{PID: 4242, Host: "h", User: "u"}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWriter(r, LockInfo{PID: 1}, time.Now); !errors.Is(err, ErrLocked) {
		t.Fatalf("second writer: %v", err)
	}
	if li, alive := Holder(r); !alive || li.PID != 4242 {
		t.Fatalf("holder %+v %v", li, alive)
	}
	w.Close()
	if _, alive := Holder(r); alive {
		t.Fatal("lock held after close")
	}
}

func TestFollowReplaysThenFollowsAndStopsAtTheFinish(t *testing.T) {
	r := newRun(t)
	w, _ := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	defer w.Close()
	w.Append(events.Event{Type: events.RunStarted})
	w.Append(events.Event{Type: events.RunFinished, Status: "failed"})
	after := LastSeq(r)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ch := FollowAfter(ctx, r, 5*time.Millisecond, after)
	go func() {
		time.Sleep(50 * time.Millisecond)
		w.Append(events.Event{Type: events.RunResumed})
		w.Append(events.Event{Type: events.OutputLine, Line: &events.Line{Text: "hello"}})
		w.Append(events.Event{Type: events.RunFinished, Status: "succeeded"})
	}()
	var got []events.Type
	for e := range ch {
		got = append(got, e.Type)
	}
	want := []events.Type{events.RunStarted, events.RunFinished, events.RunResumed, events.OutputLine, events.RunFinished}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestApprovalsFromSeveralPeopleDoNotOverwrite(t *testing.T) {
	r := newRun(t)
	for _, u := range []string{"ann", "bob"} {
		if err := WriteAnswer(r, events.Answer{QuestionID: "q3", Choice: "approve", By: &events.Actor{User: u}}); err != nil {
			t.Fatal(err)
		}
	}
	WriteAnswer(r, events.Answer{QuestionID: "q30", Yes: true})
	got := TakeAnswers(r, "q3")
	if len(got) != 2 {
		t.Fatalf("answers %+v", got)
	}
	if again := TakeAnswers(r, "q3"); len(again) != 0 {
		t.Fatal("answers not consumed")
	}
	if other := TakeAnswers(r, "q30"); len(other) != 1 {
		t.Fatal("an answer to another question was taken")
	}
}

func TestOpenByPartialID(t *testing.T) {
	state := t.TempDir()
	id := NewID(time.Now())
	if _, err := Create(state, Meta{ID: id}, nil); err != nil {
		t.Fatal(err)
	}
	tail := id[len(id)-6:]
	if r, err := Open(state, tail); err != nil || r.ID != id {
		t.Fatalf("by tail: %v %v", r, err)
	}
	if _, err := Open(state, id[:2]); err == nil {
		t.Fatal("two characters matched a run")
	}
}
