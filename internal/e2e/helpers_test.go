package e2e

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// world is one test's cairn: its binary, state directory and environment.
type world struct {
	t     *testing.T
	bin   string
	state string
	env   []string
	pg    *testbed.PG
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, bin: testbed.CairnBinary(t), state: filepath.Join(testbed.TempDir(t), "state")}
	w.pg = testbed.Postgres(t)
	w.env = append(os.Environ(),
		"CAIRN_STATE_DIR="+w.state,
		"PGHOST="+w.pg.SocketDir, "PGPORT="+itoa(w.pg.Port), "PGUSER="+w.pg.Superuser, "PGDATABASE=postgres",
	)
	t.Cleanup(func() { w.killRunners() })
	return w
}

func itoa(i int) string { return strconvItoa(i) }

// cairn runs the binary and returns stdout, stderr and the exit code.
func (w *world) cairn(extraEnv []string, args ...string) (string, string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = append(append([]string(nil), w.env...), extraEnv...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("cairn %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// onlyRun returns the single run in the state directory.
func (w *world) onlyRun() *journal.Run { return onlyRunIn(w.t, w.state) }

// waitFor polls the journal until cond holds.
func (w *world) waitFor(run *journal.Run, what string, cond func([]events.Event) bool) []events.Event {
	return waitForRecords(w.t, run, what, cond)
}

// onlyRunIn returns the single run in a state directory.
func onlyRunIn(t *testing.T, state string) *journal.Run {
	t.Helper()
	ids, _ := journal.List(state)
	if len(ids) != 1 {
		t.Fatalf("want 1 run, have %v", ids)
	}
	r, err := journal.Open(state, ids[0])
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// waitForRecords polls a run's journal until cond holds.
func waitForRecords(t *testing.T, run *journal.Run, what string, cond func([]events.Event) bool) []events.Event {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		recs, _ := journal.ReadAll(run)
		if cond(recs) {
			return recs
		}
		time.Sleep(50 * time.Millisecond)
	}
	recs, _ := journal.ReadAll(run)
	t.Fatalf("timed out waiting for %s; journal has %d records; last: %+v", what, len(recs), lastOf(recs))
	return nil
}

func lastOf(recs []events.Event) any {
	if len(recs) == 0 {
		return nil
	}
	return recs[len(recs)-1]
}

func has(recs []events.Event, typ events.Type, step string) bool {
	for _, e := range recs {
		if e.Type == typ && (step == "" || e.Step == step) {
			return true
		}
	}
	return false
}

func finished(recs []events.Event) events.RunStatus {
	for i := len(recs) - 1; i >= 0; i-- {
		if recs[i].Type == events.RunFinished {
			return recs[i].Status
		}
	}
	return ""
}

// killRunners stops any runner left behind by a test.
func (w *world) killRunners() {
	ids, _ := journal.List(w.state)
	for _, id := range ids {
		r, err := journal.Open(w.state, id)
		if err != nil {
			continue
		}
		if li, alive := journal.Holder(r); alive && li.PID > 0 {
			p, err := os.FindProcess(li.PID)
			if err == nil {
				_ = p.Kill()
			}
		}
	}
}
