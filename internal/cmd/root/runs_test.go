package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/runs"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/events"
)

func TestNewCmdRuns(t *testing.T) {
	cmdtest.Table(t, runs.NewCmdRuns, func(o *runs.RunsOptions) { o.IO = nil }, []cmdtest.Case[runs.RunsOptions]{
		{Name: "no arguments", Want: runs.RunsOptions{StateDir: "/state"}},
		{Name: "an argument", Argv: []string{"a1b2c3"}, Usage: `unknown command "a1b2c3" for "cairn runs"`},
	})
}

// No runs: stdout stays empty (a script reads nothing), stderr says where it looked. Each run is one
// line: id, runbook, how it stands, when it started, the step it is at.
func TestRunsRun(t *testing.T) {
	state := t.TempDir()
	env := map[string]string{"CAIRN_STATE_DIR": state}
	out, errOut, err := cmdtest.Output(env, runs.NewCmdRuns)
	if err != nil || out != "" || errOut != "no runs yet under "+state+"\n" {
		t.Fatalf("no runs: %v, stdout %q, stderr %q", err, out, errOut)
	}
	run := cmdtest.WriteRun(t, state, events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepApplying, Step: "b"},
		events.Event{Type: events.StepFailed, Step: "b", Phase: "apply", Error: &events.Diag{Summary: "boom"}},
		events.Event{Type: events.RunFinished, Status: events.Failed})
	out, errOut, err = cmdtest.Output(env, runs.NewCmdRuns)
	started := cmdtest.At.Local().Format(time.RFC3339)
	want := run.ID + "     rb               failed               " + started + "  b (failed)\n"
	if err != nil || out != want || errOut != "" {
		t.Fatalf("one failed run: %v\nstdout %q\nwant   %q\nstderr %q", err, out, want, errOut)
	}
}
