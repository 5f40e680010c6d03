package journal

import (
	"path/filepath"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// RehearsalTimings averages each step's duration over the earlier rehearsals (runs started with
// --rehearsal) of a runbook that succeeded. It returns nil when there are none.
func RehearsalTimings(stateDir, runbook string) map[string]time.Duration {
	ids, _ := List(stateDir)
	sum := map[string]time.Duration{}
	n := 0
	for _, id := range ids {
		run := &Run{Dir: filepath.Join(RunsDir(stateDir), id), ID: id}
		meta, err := run.Meta()
		if err != nil || !meta.Rehearsal || meta.Runbook != runbook {
			continue
		}
		recs, err := ReadAll(run)
		if err != nil {
			continue
		}
		st := events.NewRunState()
		for _, e := range recs {
			st.Apply(e)
		}
		if st.Status != events.Succeeded {
			continue
		}
		n++
		for _, s := range st.Steps {
			sum[s.Info.ID] += s.Elapsed
		}
	}
	if n == 0 {
		return nil
	}
	for k := range sum {
		sum[k] /= time.Duration(n)
	}
	return sum
}

// StateDirOf is the state directory a run directory lives in.
func StateDirOf(r *Run) string { return filepath.Dir(filepath.Dir(r.Dir)) }
