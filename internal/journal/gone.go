package journal

// A follower's watch on the runner: a view must not show a run as going on after its runner died
// without a word (SIGKILL, a crash), so the follower looks at the run's lock — the same liveness
// check `cairn runs` makes (Holder) — and ends the stream with a runner.gone record when it is free
// and the journal has no run.finished.

import (
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

const (
	// livenessEvery is how often a follower asks whether the runner lives. Holder takes the lock
	// shared for an instant, which a starting runner waits out (takeLock), so not every poll.
	livenessEvery = time.Second
	// startGrace is how long a follower that has seen neither a live runner nor a record it has to
	// show waits for a runner to take the lock (one just started by resume, and slow to start).
	startGrace = 10 * time.Second
)

// runnerWatch remembers what a follower has seen of the runner.
type runnerWatch struct {
	r       *Run
	started time.Time
	checked time.Time
	// seen: a runner held the lock since the follower started, or wrote the records it follows
	// (then no runner is still to start: one is alive or it died)
	seen   bool
	holder LockInfo // the last one seen alive
}

// gone reports whether the runner is gone, asking at most every livenessEvery; holder is who held
// the lock last.
func (w *runnerWatch) gone(now time.Time) (LockInfo, bool) {
	if now.Sub(w.checked) < livenessEvery {
		return w.holder, false
	}
	w.checked = now
	li, alive := Holder(w.r)
	if alive {
		w.seen, w.holder = true, li
		return li, false
	}
	if !w.seen && now.Sub(w.started) < startGrace {
		return li, false
	}
	if li.PID > 0 || w.holder.PID == 0 {
		w.holder = li // the lock file names the runner that died holding it
	}
	return w.holder, true
}

// runnerGone is the record that ends a stream whose runner died: what it was doing, and the
// command that picks the run up.
func runnerGone(r *Run, st *events.RunState, li LockInfo, now time.Time) events.Event {
	who := "the runner died"
	if li.PID > 0 {
		who = fmt.Sprintf("the runner died (pid %d)", li.PID)
	}
	e := events.Event{Type: events.RunnerGone, Time: now}
	d := events.Diag{
		Detail: "its lock is free and the journal does not say the run ended (killed with SIGKILL, a crash, the machine went down)",
		Next:   "cairn resume " + r.ID,
	}
	cur := st.Current()
	switch {
	case cur == nil:
		d.Summary = who + " before its first step"
		d.State = "the run is unfinished; no step was started"
	case cur.Status == events.StatusDone || cur.Status == events.StatusSkipped:
		d.Summary = fmt.Sprintf("%s after step %s", who, cur.Info.ID)
		d.State = fmt.Sprintf("the run is unfinished; step %s is %s, the steps after it were not started", cur.Info.ID, cur.Status)
	default:
		e.Step = cur.Info.ID
		d.Summary = fmt.Sprintf("%s during step %s", who, cur.Info.ID)
		d.State = fmt.Sprintf("the run is unfinished; step %s was %s and may be partly done", cur.Info.ID, cur.Status)
		d.Next += " (it checks " + cur.Info.ID + " first)"
	}
	e.Error = &d
	return e
}
