package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/rollback"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
)

func TestNewCmdRollback(t *testing.T) {
	cmdtest.Table(t, rollback.NewCmdRollback, func(o *rollback.RollbackOptions) { o.Factory = nil }, []cmdtest.Case[rollback.RollbackOptions]{
		{Name: "run id", Argv: []string{"a1b2c3"}, Want: rollback.RollbackOptions{RunID: "a1b2c3"}},
		{Name: "yes and plain", Argv: []string{"a1b2c3", "--yes", "--no-tui", "--on-failure", "abort"},
			Want: rollback.RollbackOptions{RunID: "a1b2c3", RunFlags: shared.RunFlags{Yes: true, NoTUI: true, OnFailure: "abort"}}},
		{Name: "no take-over", Argv: []string{"a1b2c3", "--take-over"}, Usage: "unknown flag: --take-over"},
		{Name: "on-failure not a decision", Argv: []string{"a1b2c3", "--on-failure", "rollback-twice"}, Usage: `--on-failure "rollback-twice"`},
	})
}

// Rolling back a well-formed id that names no run is an error (not usage) and starts nothing.
func TestRollbackNoSuchRun(t *testing.T) {
	state := t.TempDir()
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, rollback.NewCmdRollback, "a1b2c3")
	want := `no run "a1b2c3" under ` + state + "/runs: `cairn runs` lists them (is CAIRN_STATE_DIR the same as when it started?)"
	if err == nil || cmdutil.IsUsage(err) || err.Error() != want || out != "" || errOut != "" {
		t.Fatalf("rollback: %v, stdout %q, stderr %q; want error %q", err, out, errOut, want)
	}
}
