package root

import (
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/spf13/cobra"
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

// listRuns folds every run's journal into a summary.
func listRuns(stateDir string) ([]RunSummary, error) {
	ids, err := journal.List(stateDir)
	if err != nil {
		return nil, err
	}
	var out []RunSummary
	for _, id := range ids {
		run := &journal.Run{Dir: journal.RunsDir(stateDir) + "/" + id, ID: id}
		st, err := fold(run)
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

func fold(run *journal.Run) (*events.RunState, error) {
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

func newCmdRuns(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "runs",
		Short: "List runs, unfinished ones with what they wait for",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			runs, err := listRuns(f.StateDir())
			if err != nil {
				return err
			}
			if len(runs) == 0 {
				fmt.Fprintln(f.IO.ErrOut, "no runs yet under "+f.StateDir())
			}
			for _, r := range runs {
				fmt.Fprintf(f.IO.Out, "%-30s %-16s %-20s %s  %s\n", r.ID, r.Runbook, r.Status, r.Started.Local().Format(time.RFC3339), r.Current)
			}
			return nil
		},
	}
}
