package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/resume"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
)

func TestNewCmdResume(t *testing.T) {
	cmdtest.Table(t, resume.NewCmdResume, func(o *resume.ResumeOptions) { o.Factory = nil }, []cmdtest.Case[resume.ResumeOptions]{
		{Name: "run id", Argv: []string{"a1b2c3"}, Want: resume.ResumeOptions{RunID: "a1b2c3"}},
		{Name: "every flag", Argv: []string{"a1b2c3", "--yes", "--no-tui", "--on-failure", "rollback", "--confirm", "drop=app",
			"--secret-file", "pw=/run/pw", "--detach", "--take-over"},
			Want: resume.ResumeOptions{RunID: "a1b2c3", TakeOver: true, RunFlags: shared.RunFlags{Yes: true, NoTUI: true, OnFailure: "rollback",
				Confirm: []string{"drop=app"}, SecretFiles: []string{"pw=/run/pw"}, Detach: true}}},
		{Name: "on-failure not a decision", Argv: []string{"a1b2c3", "--on-failure", "retry"}, Usage: `--on-failure "retry": use abort or rollback`},
		{Name: "confirm without a value", Argv: []string{"a1b2c3", "--confirm", "drop"}, Usage: "--confirm: "},
		{Name: "a path", Argv: []string{"a1b2c3/../x"}, Usage: "is not a run id"},
	})
}

// Resuming a well-formed id that names no run is an error (not usage) that says where it looked.
func TestResumeNoSuchRun(t *testing.T) {
	state := t.TempDir()
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, resume.NewCmdResume, "a1b2c3")
	want := `no run "a1b2c3" under ` + state + "/runs: `cairn runs` lists them (is CAIRN_STATE_DIR the same as when it started?)"
	if err == nil || cmdutil.IsUsage(err) || err.Error() != want || out != "" || errOut != "" {
		t.Fatalf("resume: %v, stdout %q, stderr %q; want error %q", err, out, errOut, want)
	}
}
