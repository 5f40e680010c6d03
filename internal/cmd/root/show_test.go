package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/show"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

func TestNewCmdShow(t *testing.T) {
	cmdtest.Table(t, show.NewCmdShow, func(o *show.ShowOptions) { o.IO = nil }, []cmdtest.Case[show.ShowOptions]{
		{Name: "runbook", Argv: []string{"sample-role"}, Want: show.ShowOptions{Runbook: "sample-role"}},
		{Name: "file", Argv: []string{"--file", "x.yaml", "x"}, Want: show.ShowOptions{Files: []string{"x.yaml"}, Runbook: "x"}},
		{Name: "kind", Argv: []string{"--kind", "exec"}, Want: show.ShowOptions{Kind: "exec"}},
		{Name: "kinds", Argv: []string{"--kinds"}, Want: show.ShowOptions{Kinds: true}},
		{Name: "nothing to show", Usage: "give a runbook name, --kind <kind> or --kinds"},
		{Name: "two runbooks", Argv: []string{"a", "b"}, Usage: "accepts at most 1 arg(s), received 2"},
	})
}

// show prints a runbook's parameters and steps exactly so; a built-in runbook names where its
// secret comes from and a parameter's lookup; an unknown kind is refused with the list of kinds.
func TestShowRun(t *testing.T) {
	rb := cmdtest.RunbookFile(t, cmdtest.TouchIt)
	out, errOut, err := cmdtest.Output(nil, show.NewCmdShow, "--file", rb, "touch-it")
	want := "touch-it — Touch a file\n(" + rb + ")\n\nTouches one file.\n\nParameters:\n" +
		"  path                 string, required\n                       the file\n" +
		"\nSteps:\n   1. touch                  touch the file (exec)  [destructive]\n"
	if err != nil || out != want || errOut != "" {
		t.Fatalf("show: %v\nstdout %q\nwant   %q\nstderr %q", err, out, want, errOut)
	}
	out, _, err = cmdtest.Output(nil, show.NewCmdShow, "sample-role")
	for _, want := range []string{"role-password        string, required, secret, from $CAIRN_ROLE_PASSWORD", "schema               string, default ${params.role}_data", " 2. create-role",
		"choices: pg-clusters — PostgreSQL servers running on this host, as connection strings; any other value may be typed"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("show sample-role lacks %q (%v):\n%s", want, err, out)
		}
	}
}

func TestShowKind(t *testing.T) {
	out, _, err := cmdtest.Output(nil, show.NewCmdShow, "--kind", "exec")
	for _, want := range []string{"exec — run a command", "argv                   list of text (references allowed)", "check                  block", "    argv"} {
		if err != nil || !strings.Contains(out, want) {
			t.Errorf("show --kind exec lacks %q (%v):\n%s", want, err, out)
		}
	}
	out, errOut, err := cmdtest.Output(nil, show.NewCmdShow, "--kind", "nope")
	if err == nil || !strings.HasPrefix(err.Error(), `no step kind "nope": kinds are `) || !strings.Contains(err.Error(), "exec") || out != "" || errOut != "" {
		t.Fatalf("unknown kind: %v, stdout %q, stderr %q", err, out, errOut)
	}
}
