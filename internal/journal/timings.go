package journal

import (
	"path/filepath"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Rehearsal is an earlier rehearsal of a runbook that succeeded, read back.
type Rehearsal struct {
	Run     *Run
	Meta    Meta
	Records []events.Event
	State   *events.RunState
}

// rehearsals lists the succeeded rehearsals (runs started with --rehearsal) of a runbook, oldest
// first. Runs that cannot be read are left out.
func rehearsals(stateDir, runbook string) []Rehearsal {
	ids, _ := List(stateDir)
	var out []Rehearsal
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
		out = append(out, Rehearsal{Run: run, Meta: meta, Records: recs, State: st})
	}
	return out
}

// RehearsalTimings averages each step's duration over the earlier rehearsals (runs started with
// --rehearsal) of a runbook that succeeded. It returns nil when there are none.
func RehearsalTimings(stateDir, runbook string) map[string]time.Duration {
	rs := rehearsals(stateDir, runbook)
	if len(rs) == 0 {
		return nil
	}
	sum := map[string]time.Duration{}
	for _, r := range rs {
		for _, s := range r.State.Steps {
			sum[s.Info.ID] += s.Elapsed
		}
	}
	for k := range sum {
		sum[k] /= time.Duration(len(rs))
	}
	return sum
}

// Twin is the rehearsal a run is compared with on its timeline: of the rehearsals of the same
// runbook that succeeded and started before the run (never the run itself), the one whose runbook
// text is the run's (the same sha256) — the latest such — else the latest of any text. ok is
// false when there is none.
func Twin(stateDir string, run events.RunInfo, started time.Time) (Rehearsal, bool) {
	var best Rehearsal
	found, same := false, false
	for _, r := range rehearsals(stateDir, run.Runbook) {
		if r.Run.ID == run.ID || (!started.IsZero() && !r.State.Started.Before(started)) {
			continue
		}
		s := run.RunbookSHA256 != "" && r.Meta.RunbookSHA256 == run.RunbookSHA256
		if same && !s {
			continue
		}
		best, found, same = r, true, s // oldest first: a later one of the same standing wins
	}
	return best, found
}

// StateDirOf is the state directory a run directory lives in.
func StateDirOf(r *Run) string { return filepath.Dir(filepath.Dir(r.Dir)) }
