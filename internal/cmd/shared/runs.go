package shared

import (
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
)

// RunSummary is one run as `cairn runs` and Home list it.
type RunSummary struct {
	ID, Runbook, Current string
	// Final is how the run ended ("" while it has not).
	Final events.RunStatus
	// Status is what `cairn runs` shows: Final, or for a run that has not ended, whether it is
	// running, waiting for an answer, or unfinished (its runner died without a word).
	Status  string
	Started time.Time
	Live    bool
}

// ListRuns folds every run's journal into a summary.
func ListRuns(stateDir string) ([]RunSummary, error) {
	ids, err := journal.List(stateDir)
	if err != nil {
		return nil, err
	}
	var out []RunSummary
	for _, id := range ids {
		run := &journal.Run{Dir: journal.RunsDir(stateDir) + "/" + id, ID: id}
		st, err := Fold(run)
		if err != nil {
			// listed, never dropped in silence: the report names the damaged line
			out = append(out, RunSummary{ID: id, Status: "unreadable: `cairn report " + id + "` says why"})
			continue
		}
		s := RunSummary{ID: id, Runbook: st.Info.Runbook, Final: st.Status, Status: string(st.Status), Started: st.Started}
		if c := st.Current(); c != nil {
			s.Current = c.Info.ID + " (" + string(c.Status) + ")"
		}
		if _, alive := journal.Holder(run); alive {
			s.Live = true
		}
		if !s.Final.Ended() {
			switch c := st.Current(); {
			case s.Live && st.Open != nil:
				s.Status = "waiting: " + string(st.Open.Kind)
			case s.Live:
				s.Status = "running"
			default:
				// its runner died without a word (SIGKILL, a crash): nothing runs or waits now
				s.Status = "unfinished"
				if c != nil && c.Status != events.StatusDone && c.Status != events.StatusPending {
					s.Current = c.Info.ID + " (was " + string(c.Status) + " when its runner died; resume checks it)"
				}
			}
		}
		out = append(out, s)
	}
	return out, nil
}

// Fold reads a run's journal into its state.
func Fold(run *journal.Run) (*events.RunState, error) {
	recs, err := journal.ReadAll(run)
	if err != nil {
		return nil, err
	}
	st := events.NewRunState()
	for _, e := range recs {
		st.Apply(e)
	}
	return st, nil
}
