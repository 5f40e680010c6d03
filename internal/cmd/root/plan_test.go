package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/plan"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
)

func TestNewCmdPlan(t *testing.T) {
	cmdtest.Table(t, plan.NewCmdPlan, func(o *plan.PlanOptions) { o.Factory = nil }, []cmdtest.Case[plan.PlanOptions]{
		{Name: "runbook", Argv: []string{"sample-role"}, Want: plan.PlanOptions{Runbook: "sample-role"}},
		{Name: "every flag", Argv: []string{"rds-encrypt", "--file", "x.yaml", "-p", "instance=app-db", "--secret-file", "pw=/run/pw", "--check"},
			Want: plan.PlanOptions{Runbook: "rds-encrypt", Files: []string{"x.yaml"}, Params: []string{"instance=app-db"}, SecretFiles: []string{"pw=/run/pw"}, Check: true}},
		{Name: "no runbook", Usage: "accepts 1 arg(s), received 0"},
		{Name: "yes is for run", Argv: []string{"sample-role", "--yes"}, Usage: "unknown flag: --yes"},
	})
}

// The plan of a one-step runbook, exactly: the target, the parameters, the step's argv with the
// value bound, and a headline that says nothing was checked. A -p without = is a usage error.
func TestPlanRun(t *testing.T) {
	rb := cmdtest.RunbookFile(t, cmdtest.TouchIt)
	out, errOut, err := cmdtest.Output(nil, plan.NewCmdPlan, "--file", rb, "touch-it", "-p", "path=/tmp/a b")
	want := "Target: local host\n\n# Plan: touch-it — Touch a file\n\n- path = /tmp/a b\n\n" +
		"## 1. touch — touch the file  ⚠ DESTRUCTIVE\n   (confirmation: yes/no — `--yes` answers it)\n```\n[exec → local]\ntouch '/tmp/a b'\n```\n\n" +
		"Plan: 1 steps (not checked against the targets: add --check).\n"
	if err != nil || out != want || errOut != "" {
		t.Fatalf("plan: %v\nstdout %q\nwant   %q\nstderr %q", err, out, want, errOut)
	}
	if _, _, err := cmdtest.Output(nil, plan.NewCmdPlan, "--file", rb, "touch-it", "-p", "path"); !cmdutil.IsUsage(err) {
		t.Fatalf("-p path: %v, want a usage error", err)
	}
}
