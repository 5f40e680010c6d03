package show

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

// A kind's duration fields say what to write ("2s"), not the Go type underneath (int64), which the
// loader would refuse as a bare number.
func TestShowKindSaysDuration(t *testing.T) {
	out, _, err := cmdtest.Output(nil, NewCmdShow, "--kind", "wait")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"interval", "timeout"} {
		if !strings.Contains(out, "  "+f+strings.Repeat(" ", 23-len(f))+"duration (e.g. 2s, 90s, 10m)\n") {
			t.Errorf("%s is not shown as a duration:\n%s", f, out)
		}
	}
	if strings.Contains(out, "int64") {
		t.Errorf("a Go type shows:\n%s", out)
	}
}

// rds-rename's poll is a duration like wait's, and its until lists the values it takes.
func TestShowKindSaysPollAndUntil(t *testing.T) {
	out, _, err := cmdtest.Output(nil, NewCmdShow, "--kind", "rds-rename")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"  poll                   duration (e.g. 2s, 90s, 10m)\n", "  until                  one of available, answers\n"} {
		if !strings.Contains(out, line) {
			t.Errorf("want %q in:\n%s", line, out)
		}
	}
}
