package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/run"
	"os"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
)

func TestNewCmdRun(t *testing.T) {
	cmdtest.Table(t, run.NewCmdRun, func(o *run.RunOptions) { o.Factory = nil }, []cmdtest.Case[run.RunOptions]{
		{Name: "runbook", Argv: []string{"sample-role"}, Want: run.RunOptions{Runbook: "sample-role"}},
		{Name: "every flag", Argv: []string{"rds-encrypt", "--file", "x.yaml", "-p", "instance=app-db", "--param", "kms-key=alias/k",
			"--yes", "--no-tui", "--on-failure", "abort", "--confirm", "delete-old=app-db", "--secret-file", "pw=/run/pw", "--detach",
			"--rehearsal", "--window", "45m", "--approvals", "2"},
			Want: run.RunOptions{Runbook: "rds-encrypt", Files: []string{"x.yaml"}, Params: []string{"instance=app-db", "kms-key=alias/k"},
				RunFlags: shared.RunFlags{Yes: true, NoTUI: true, OnFailure: "abort", Confirm: []string{"delete-old=app-db"},
					SecretFiles: []string{"pw=/run/pw"}, Detach: true},
				Rehearsal: true, Window: 45 * time.Minute, Approvals: 2}},
		{Name: "until", Argv: []string{"sample-role", "--until", "03:00"}, Want: run.RunOptions{Runbook: "sample-role", Until: "03:00"}},
		{Name: "no runbook", Usage: "accepts 1 arg(s), received 0"},
		{Name: "until not a time", Argv: []string{"sample-role", "--until", "3am"}, Usage: `--until "3am": write a local time as HH:MM`},
		{Name: "window and until", Argv: []string{"sample-role", "--window", "1h", "--until", "03:00"}, Usage: "give --window or --until, not both"},
		{Name: "window not a duration", Argv: []string{"sample-role", "--window", "soon"}, Usage: `invalid argument "soon" for "--window"`},
		{Name: "on-failure not a decision", Argv: []string{"sample-role", "--on-failure", "skip"}, Usage: `--on-failure "skip": use abort or rollback`},
	})
}

// Without a terminal nobody can be asked for a secret: a run whose secret is neither in its
// environment variable nor in a --secret-file is not started (no run directory), and stdout stays
// empty. A -p without = is a usage error.
func TestRunRunNothingRun(t *testing.T) {
	state := t.TempDir()
	env := map[string]string{"CAIRN_STATE_DIR": state}
	out, errOut, err := cmdtest.Output(env, run.NewCmdRun, "sample-role", "-p", "role=app")
	want := "missing secret role-password: set the environment variable CAIRN_ROLE_PASSWORD, pass --secret-file role-password=<path to a 0600 file>, or run on a terminal to be asked\nnothing was run"
	if err == nil || cmdutil.IsUsage(err) || err.Error() != want || out != "" || errOut != "" {
		t.Fatalf("run: %v, stdout %q, stderr %q; want error %q", err, out, errOut, want)
	}
	if runs, _ := os.ReadDir(state + "/runs"); len(runs) != 0 {
		t.Fatalf("a run that was refused left %d run directories", len(runs))
	}
	if _, _, err := cmdtest.Output(env, run.NewCmdRun, "sample-role", "-p", "role"); !cmdutil.IsUsage(err) {
		t.Fatalf("-p role: %v, want a usage error", err)
	}
}
