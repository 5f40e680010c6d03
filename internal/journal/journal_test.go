package journal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
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
		w.Close() // the runner lets go of the run: the stream ends
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

// A view opened on a run that was interrupted and taken up again (after 0: attach, follow) stays
// with it: neither the earlier runner's run.finished nor the moment between that finish and the
// next runner's first record (it holds the lock, has written nothing yet) ends the stream; the last
// runner's run.finished, once it lets go of the run, does.
func TestFollowOfAResumedRunEndsAtTheLastRunnersFinish(t *testing.T) {
	r := newRun(t)
	w, _ := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	w.Append(events.Event{Type: events.RunStarted})
	w.Append(events.Event{Type: events.StepInterrupted, Step: "a"})
	w.Append(events.Event{Type: events.RunFinished, Status: events.Interrupted})
	w.Close()
	w2, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now) // resumed: the lock is held
	if err != nil {
		t.Fatal(err)
	}
	defer w2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ch := FollowAfter(ctx, r, 5*time.Millisecond, 0)
	next := func(want events.Type) {
		t.Helper()
		e, ok := <-ch
		if !ok || e.Type != want {
			t.Fatalf("the view got %v (open %v), want %s", e.Type, ok, want)
		}
	}
	next(events.RunStarted)
	next(events.StepInterrupted)
	next(events.RunFinished) // the earlier runner's
	w2.Append(events.Event{Type: events.RunResumed})
	w2.Append(events.Event{Type: events.QuestionAsked, Step: "a", Question: &events.Question{ID: "q1", Kind: events.AskConfirm}})
	next(events.RunResumed)
	next(events.QuestionAsked) // the resumed run waits on a person
	w2.Append(events.Event{Type: events.QuestionAnswered, Step: "a"})
	w2.Append(events.Event{Type: events.StepApplied, Step: "a"})
	w2.Append(events.Event{Type: events.RunFinished, Status: events.Succeeded})
	w2.Close()
	next(events.QuestionAnswered)
	next(events.StepApplied)
	next(events.RunFinished)
	if e, ok := <-ch; ok {
		t.Fatalf("the stream went on after the last runner's finish: %v", e.Type)
	}
	if ctx.Err() != nil {
		t.Fatal("the stream did not end at the last runner's finish; the context did")
	}
}

// A request reaches the runner over its socket with the kernel's word on who sent it; the socket
// is private to the run's owner outside a shared state directory; with no runner, the caller is
// told how to start one.
func TestSocketCarriesThePeersUID(t *testing.T) {
	r := newRun(t)
	if _, err := Send(context.Background(), r, Request{Kind: AskPing}); !errors.Is(err, ErrNoRunner) || !strings.Contains(err.Error(), "cairn resume "+r.ID) {
		t.Fatalf("no runner: %v", err)
	}
	in, err := Listen(r)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	got := make(chan Peer, 1)
	go in.Serve(ctx, func(p Peer, req Request) Reply {
		got <- p
		return Reply{Status: ReplyDone, Message: "ok " + req.Text}
	})
	st, err := os.Lstat(r.Path(SocketFile))
	if err != nil || st.Mode().Type() != os.ModeSocket || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v %v", st, err)
	}
	rep, err := Send(ctx, r, Request{Kind: AskNote, Text: "hi"})
	if err != nil || rep.Message != "ok hi" {
		t.Fatalf("reply %+v %v", rep, err)
	}
	p := <-got
	if p.UID != os.Getuid() || p.PID != os.Getpid() || p.GID != os.Getgid() {
		t.Fatalf("peer %+v", p)
	}
	if mine, _ := os.Getgroups(); fmt.Sprint(mine) != fmt.Sprint(p.Groups) {
		t.Fatalf("peer groups %v, mine %v", p.Groups, mine)
	}
	in.Close()
	if _, err := os.Lstat(r.Path(SocketFile)); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("socket left behind: %v", err)
	}
	if _, err := Send(ctx, r, Request{Kind: AskPing}); !errors.Is(err, ErrNoRunner) {
		t.Fatalf("closed runner: %v", err)
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

// A run directory too deep for a unix socket's 107-byte path is reached through its descriptor.
func TestSocketInADeepRunDirectory(t *testing.T) {
	state := filepath.Join(t.TempDir(), strings.Repeat("d", 60), strings.Repeat("e", 60))
	r, err := Create(state, Meta{ID: NewID(time.Now())}, []byte("schema: 1\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Path(SocketFile)) < 108 {
		t.Fatalf("path %d bytes: not deep enough to test", len(r.Path(SocketFile)))
	}
	in, err := Listen(r)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go in.Serve(ctx, func(p Peer, req Request) Reply { return Reply{Status: ReplyDone} })
	if _, err := Ping(ctx, r); err != nil {
		t.Fatal(err)
	}
}

// A runner that dies after output lines (progress of a long step) leaves them after its last
// journal record: the next writer numbers its records after those, so one sequence still orders
// both files and a follower reading "after seq N" misses nothing.
func TestNextWriterNumbersAfterTheDeadRunnersOutput(t *testing.T) {
	r := newRun(t)
	w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(events.Event{Type: events.RunStarted})
	w.Append(events.Event{Type: events.StepApplying, Step: "wait"})
	for range 3 {
		w.Append(events.Event{Type: events.Progressed, Step: "wait", Progress: &events.Progress{Done: 1, Total: 2}})
	}
	w.Close() // no run.finished: as a SIGKILL leaves it
	w, err = OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if e, _ := w.Append(events.Event{Type: events.RunResumed}); e.Seq != 6 {
		t.Fatalf("the resumed runner's first record is seq %d, want 6 (after the dead runner's 3 progress records)", e.Seq)
	}
}
