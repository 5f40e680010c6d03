package events

import "time"

// Left is a step still to do, as an ETA counts it: its id, and when it started if it is under way
// (zero: not begun).
type Left struct {
	ID      string
	Started time.Time
}

// Remaining is how long the steps still to do should take by earlier rehearsals' timings: each
// step's time, less what an under-way one has run already (never below zero); a step without a
// timing adds nothing. The runner's go/no-go and the views' ETA both count with it.
func Remaining(timings map[string]time.Duration, left []Left, now time.Time) time.Duration {
	var rem time.Duration
	for _, l := range left {
		t, ok := timings[l.ID]
		if !ok {
			continue
		}
		if !l.Started.IsZero() {
			t = max(0, t-now.Sub(l.Started))
		}
		rem += t
	}
	return rem
}

// Active reports whether a step in this status is being worked on right now (waiting for a
// person counts).
func (s StepStatus) Active() bool {
	switch s {
	case StatusChecking, StatusRunning, StatusVerifying, StatusWaiting, StatusRollingBack:
		return true
	}
	return false
}

// ETA is when the run should end by the timings: now plus the Remaining time of the steps pending
// or under way. false when there are no timings or the run has ended.
func (s *RunState) ETA(timings map[string]time.Duration, now time.Time) (time.Time, bool) {
	if len(timings) == 0 || s.Status != "" {
		return time.Time{}, false
	}
	var left []Left
	for _, st := range s.Steps {
		switch {
		case st.Status == StatusPending:
			left = append(left, Left{ID: st.Info.ID})
		case st.Status.Active() && !st.Started.IsZero():
			left = append(left, Left{ID: st.Info.ID, Started: st.Started})
		}
	}
	return now.Add(Remaining(timings, left, now)), true
}
