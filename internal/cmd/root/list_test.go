package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/list"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

func TestNewCmdList(t *testing.T) {
	cmdtest.Table(t, list.NewCmdList, func(o *list.ListOptions) { o.IO = nil }, []cmdtest.Case[list.ListOptions]{
		{Name: "built-in only", Want: list.ListOptions{}},
		{Name: "files", Argv: []string{"--file", "a.yaml", "--file", "b.yaml"}, Want: list.ListOptions{Files: []string{"a.yaml", "b.yaml"}}},
		{Name: "an argument", Argv: []string{"sample-role"}, Usage: `unknown command "sample-role" for "cairn list"`},
	})
}

// A runbook given with --file is listed beside the built-in ones, one line each; a file that does
// not load lists nothing and says which file.
func TestListRun(t *testing.T) {
	rb := cmdtest.RunbookFile(t, cmdtest.TouchIt)
	out, errOut, err := cmdtest.Output(nil, list.NewCmdList, "--file", rb)
	if err != nil || errOut != "" {
		t.Fatalf("list: %v, stderr %q", err, errOut)
	}
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if !strings.Contains(out, "\ntouch-it            1 steps  Touch a file\n") || !strings.HasPrefix(out, "dblink-secret ") || len(lines) < 6 {
		t.Fatalf("list:\n%s", out)
	}
	bad := cmdtest.RunbookFile(t, "schema: 1\nname: [\n")
	out, errOut, err = cmdtest.Output(nil, list.NewCmdList, "--file", bad)
	if err == nil || !strings.Contains(err.Error(), bad) || out != "" || errOut != "" {
		t.Fatalf("list of a broken file: %v, stdout %q, stderr %q", err, out, errOut)
	}
}
