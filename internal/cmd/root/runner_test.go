package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/runner"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	cairnrunner "github.com/cairn-runbooks/cairn/internal/runner"
)

func TestNewCmdRunner(t *testing.T) {
	cmdtest.Table(t, runner.NewCmdRunner, func(o *runner.RunnerOptions) { o.IO, o.Getenv = nil, nil }, []cmdtest.Case[runner.RunnerOptions]{
		{Name: "run", Argv: []string{"--run-dir", "/state/runs/r1"}, Want: runner.RunnerOptions{RunDir: "/state/runs/r1", Mode: cairnrunner.ModeRun}},
		{Name: "rollback", Argv: []string{"--run-dir", "/d", "--mode", "rollback"}, Want: runner.RunnerOptions{RunDir: "/d", Mode: cairnrunner.ModeRollback}},
		{Name: "an argument", Argv: []string{"/d"}, Usage: "unknown command"},
	})
}

// The runner takes its secrets as JSON on stdin (they are never stored); anything else stops it
// before it touches the run, and it says so only in its error.
func TestRunnerRefusesSecretsThatAreNotJSON(t *testing.T) {
	f, out, errOut := cmdtest.Factory(nil)
	f.IO.In = strings.NewReader("password=hunter2\n")
	err := cmdtest.Run(f, runner.NewCmdRunner, "--run-dir", t.TempDir())
	if err == nil || err.Error() != "read secrets from stdin: invalid character 'p' looking for beginning of value" || out.Len()+errOut.Len() != 0 {
		t.Fatalf("runner: %v, stdout %q, stderr %q", err, out, errOut)
	}
}
