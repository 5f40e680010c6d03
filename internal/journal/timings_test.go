package journal

import (
	"os"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// record writes a run of runbook rb started at start: a rehearsal or not, with the runbook text
// given, one step that took took, ending as status says ("" = still going).
func record(t *testing.T, state, text string, start time.Time, rehearsal bool, took time.Duration, status events.RunStatus) *Run {
	t.Helper()
	r, err := Create(state, Meta{ID: NewID(start), Runbook: "rb", Rehearsal: rehearsal, Started: start}, []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	w, err := OpenWriter(r, LockInfo{PID: os.Getpid()}, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Append(events.Event{Type: events.RunStarted, Time: start, Run: &events.RunInfo{ID: r.ID, Runbook: "rb", Rehearsal: rehearsal, Steps: []events.StepInfo{{ID: "a"}}}})
	w.Append(events.Event{Type: events.StepChecking, Step: "a", Time: start})
	w.Append(events.Event{Type: events.StepVerified, Step: "a", Time: start.Add(took), Elapsed: took})
	if status != "" {
		w.Append(events.Event{Type: events.RunFinished, Time: start.Add(took), Status: status})
	}
	return r
}

// The rehearsal a run's timeline is compared with: an earlier succeeded rehearsal of the same
// runbook, the same runbook text first, the latest of those; never the run itself, a failed
// rehearsal, a run that is not a rehearsal, or a rehearsal started after the run.
func TestTwinIsTheLatestEarlierRehearsalOfTheSameText(t *testing.T) {
	state := t.TempDir()
	day := func(n int) time.Time { return time.Date(2026, 11, n, 2, 0, 0, 0, time.UTC) }
	sameText := record(t, state, "schema: 1\n# v1\n", day(1), true, time.Minute, events.Succeeded)
	record(t, state, "schema: 1\n# v1\n", day(2), true, time.Minute, events.Failed)
	otherText := record(t, state, "schema: 1\n# v2\n", day(3), true, 2*time.Minute, events.Succeeded)
	record(t, state, "schema: 1\n# v1\n", day(4), false, time.Minute, events.Succeeded)
	tonight := record(t, state, "schema: 1\n# v1\n", day(5), true, time.Minute, "")
	record(t, state, "schema: 1\n# v1\n", day(6), true, time.Minute, events.Succeeded)

	info := func(r *Run) events.RunInfo {
		m, _ := r.Meta()
		return events.RunInfo{ID: r.ID, Runbook: "rb", RunbookSHA256: m.RunbookSHA256}
	}
	if got, ok := Twin(state, info(tonight), day(5)); !ok || got.Run.ID != sameText.ID {
		t.Fatalf("twin = %v %v, want %s (same runbook text)", got.Run, ok, sameText.ID)
	}
	changed := info(tonight)
	changed.RunbookSHA256 = "0123"
	if got, ok := Twin(state, changed, day(5)); !ok || got.Run.ID != otherText.ID {
		t.Fatalf("twin of an edited runbook = %v %v, want the latest, %s", got.Run, ok, otherText.ID)
	}
	if _, ok := Twin(state, info(sameText), day(1)); ok {
		t.Fatal("the first rehearsal has a twin: itself, or a later one")
	}
	if got := RehearsalTimings(state, "rb")["a"]; got != time.Minute*4/3 {
		t.Fatalf("timings average %v over the three succeeded rehearsals, want 1m20s", got)
	}
}
