package journal

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// A runner killed mid-write leaves its last record cut at any byte. Whatever the cut, the next
// writer sets the fragment aside (next to the journal), journals a note saying so, continues the
// sequence, and every reader — resume's replay, the report — reads a whole journal.
func TestTornLastRecordAtEveryOffsetResumesAndReports(t *testing.T) {
	r := newRun(t)
	w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: r.ID, Steps: []events.StepInfo{{ID: "a"}, {ID: "b"}}}})
	w.Append(events.Event{Type: events.StepApplying, Step: "a"})
	w.Append(events.Event{Type: events.StepApplied, Step: "a", Outputs: map[string]string{"table": "orders"}})
	w.Close()
	whole, _ := os.ReadFile(r.Path(JournalFile))
	start := bytes.LastIndexByte(whole[:len(whole)-1], '\n') + 1 // the last record's first byte
	t.Logf("cutting the last record (%d bytes) at each of its offsets", len(whole)-start)

	for cut := start; cut < len(whole); cut++ {
		if err := os.WriteFile(r.Path(JournalFile), whole[:cut], 0o600); err != nil {
			t.Fatal(err)
		}
		w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
		if err != nil {
			t.Fatalf("cut at %d: open: %v", cut, err)
		}
		if _, err := w.Append(events.Event{Type: events.RunResumed}); err != nil {
			t.Fatalf("cut at %d: append: %v", cut, err)
		}
		w.Close()

		recs, err := ReadAll(r)
		if err != nil {
			t.Fatalf("cut at %d: read: %v", cut, err)
		}
		var types []string
		for _, e := range recs {
			types = append(types, string(e.Type))
		}
		want := "run.started step.applying run.resumed"
		if cut > start {
			want += " note"
		}
		if got := strings.Join(types, " "); got != want {
			t.Fatalf("cut at %d: records %s, want %s", cut, got, want)
		}
		if recs[2].Seq != 3 {
			t.Fatalf("cut at %d: resumed record has seq %d, want 3 (after the last whole one)", cut, recs[2].Seq)
		}
		// every line of the file is a whole record: nothing was glued onto the fragment
		b, _ := os.ReadFile(r.Path(JournalFile))
		for i, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
			if !json.Valid([]byte(l)) {
				t.Fatalf("cut at %d: line %d is not a record: %q", cut, i+1, l)
			}
		}
		// the fragment is kept, byte for byte, and the note names where
		aside, _ := filepath.Glob(r.Path(JournalFile + ".torn-*"))
		if cut == start {
			if len(aside) != 0 {
				t.Fatalf("cut at %d (a clean end): set aside %v", cut, aside)
			}
			continue
		}
		if len(aside) != 1 {
			t.Fatalf("cut at %d: set aside %v", cut, aside)
		}
		kept, _ := os.ReadFile(aside[0])
		if !bytes.Equal(kept, whole[start:cut]) {
			t.Fatalf("cut at %d: kept %q, want %q", cut, kept, whole[start:cut])
		}
		if note := recs[3].Note; !strings.Contains(note, filepath.Base(aside[0])) || !strings.Contains(note, "cut short") {
			t.Fatalf("cut at %d: note %q", cut, note)
		}
		// the report's view of the run: step a was being applied (its applied record was lost)
		st := events.NewRunState()
		for _, e := range recs {
			st.Apply(e)
		}
		if len(st.Steps) != 2 {
			t.Fatalf("cut at %d: the report sees %d steps", cut, len(st.Steps))
		}
		os.Remove(aside[0])
	}
}

// A run cut inside its very first record starts again: the first record is run.started, with
// the runbook's hash.
func TestTornFirstRecordStartsAgain(t *testing.T) {
	r := newRun(t)
	os.WriteFile(r.Path(JournalFile), []byte(`{"v":1,"seq":1,"type":"run.sta`), 0o600)
	w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	w.Append(events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: r.ID}})
	w.Close()
	recs, err := ReadAll(r)
	if err != nil || len(recs) != 2 || recs[0].Type != events.RunStarted || recs[1].Type != events.Note {
		t.Fatalf("records %+v %v", recs, err)
	}
	meta, _ := r.Meta()
	if recs[0].Run.RunbookSHA256 == "" || recs[0].Run.RunbookSHA256 != meta.RunbookSHA256 {
		t.Fatalf("first record's runbook hash %q, meta's %q", recs[0].Run.RunbookSHA256, meta.RunbookSHA256)
	}
}

// A line that is not a record in the middle of the journal is damage, not a torn write: readers
// and writers stop there, naming the line; nothing is skipped or set aside.
func TestDamagedLineInTheMiddleIsAnErrorNamingIt(t *testing.T) {
	r := newRun(t)
	w, _ := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	w.Append(events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: r.ID}})
	w.Append(events.Event{Type: events.StepApplying, Step: "a"})
	w.Close()
	b, _ := os.ReadFile(r.Path(JournalFile))
	lines := strings.SplitAfter(string(b), "\n")
	damaged := lines[0] + `{"v":1,"seq":2,"type":"step.app` + "\n" + lines[1]
	os.WriteFile(r.Path(JournalFile), []byte(damaged), 0o600)

	_, err := ReadAll(r)
	if err == nil || !strings.Contains(err.Error(), r.Path(JournalFile)+" line 2 ") || !strings.Contains(err.Error(), "sed -n 2p") {
		t.Fatalf("read: %v", err)
	}
	if _, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("open for writing: %v", err)
	}
	if after, _ := os.ReadFile(r.Path(JournalFile)); string(after) != damaged {
		t.Fatal("the damaged journal was changed")
	}
}
