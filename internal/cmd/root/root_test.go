package root

import (
	"bytes"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
)

func testFactory(env map[string]string) (*cmdutil.Factory, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &cmdutil.Factory{
		IO:     &cmdutil.IOStreams{Out: &out, ErrOut: &errb},
		Getenv: func(k string) string { return env[k] },
	}, &out, &errb
}

func TestNoArgumentsWithoutATerminalPrintsHelp(t *testing.T) {
	f, out, _ := testFactory(nil)
	cmd := NewCmdRoot(f)
	cmd.SetArgs(nil)
	cmd.SetOut(out)
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Usage:") || !strings.Contains(out.String(), "resume") {
		t.Fatalf("help:\n%s", out)
	}
}

func TestUsageErrors(t *testing.T) {
	f, _, _ := testFactory(map[string]string{"CAIRN_STATE_DIR": t.TempDir()})
	for _, args := range [][]string{{"run", "sample-role", "-p", "x"}, {"plan"}, {"run", "--bogus"}} {
		cmd := NewCmdRoot(f)
		cmd.SetArgs(args)
		err := cmd.Execute()
		if err == nil || !cmdutil.IsUsage(err) {
			t.Errorf("%v: want a usage error, got %v", args, err)
		}
	}
}

// Every verb that takes a run id refuses one that could name anything but a run directory (usage
// error, exit 2), before it opens anything; a well-formed id that names no run says so.
func TestRunIDsValidated(t *testing.T) {
	state := t.TempDir()
	for _, verb := range [][]string{{"attach"}, {"follow"}, {"approve"}, {"pause"}, {"report"}, {"resume"}, {"rollback"}, {"note", "", "text"}} {
		for _, id := range []string{"x/../..", "..", ".", "/etc", "../" + state, "a b", "20261204-133718.123-a1b2c3/../../x"} {
			args := append([]string{verb[0], id}, verb[min(len(verb), 2):]...)
			f, _, _ := testFactory(map[string]string{"CAIRN_STATE_DIR": state})
			cmd := NewCmdRoot(f)
			cmd.SetArgs(args)
			err := cmd.Execute()
			if err == nil || !cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "is not a run id") {
				t.Errorf("cairn %s: %v, want a usage error naming the run id", strings.Join(args, " "), err)
			}
		}
	}
	f, _, _ := testFactory(map[string]string{"CAIRN_STATE_DIR": state})
	cmd := NewCmdRoot(f)
	cmd.SetArgs([]string{"report", "20261204-133718.123-a1b2c3"})
	if err := cmd.Execute(); err == nil || cmdutil.IsUsage(err) || !strings.Contains(err.Error(), "no run") {
		t.Errorf("report of a well-formed id of no run: %v", err)
	}
}
