package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/pause"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

func TestNewCmdPause(t *testing.T) {
	cmdtest.Table(t, pause.NewCmdPause, func(o *pause.PauseOptions) { o.IO, o.Getenv = nil, nil }, []cmdtest.Case[pause.PauseOptions]{
		{Name: "run id", Argv: []string{"a1b2c3"}, Want: pause.PauseOptions{StateDir: "/state", RunID: "a1b2c3"}},
		{Name: "no run id", Usage: "which run? give its id: cairn pause <run-id>"},
		{Name: "dot", Argv: []string{"."}, Usage: `"." is not a run id`},
	})
}

// Pausing a run whose runner is gone says there is nothing to pause, and prints nothing else.
func TestPauseRunWithoutRunner(t *testing.T) {
	state := t.TempDir()
	run := cmdtest.WriteRun(t, state)
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, pause.NewCmdPause, run.ID)
	want := "run " + run.ID + " has no live runner: nothing to pause"
	if err == nil || err.Error() != want || out != "" || errOut != "" {
		t.Fatalf("pause: %v, stdout %q, stderr %q; want error %q", err, out, errOut, want)
	}
}
