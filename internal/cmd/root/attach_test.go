package root_test

import (
	"errors"
	"github.com/cairn-runbooks/cairn/internal/cmd/attach"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
)

func TestNewCmdAttach(t *testing.T) {
	cmdtest.Table(t, attach.NewCmdAttach, func(o *attach.AttachOptions) { o.Factory = nil }, []cmdtest.Case[attach.AttachOptions]{
		{Name: "run id", Argv: []string{"a1b2c3"}, Want: attach.AttachOptions{RunID: "a1b2c3"}},
		{Name: "plain", Argv: []string{"a1b2c3", "--no-tui"}, Want: attach.AttachOptions{RunID: "a1b2c3", NoTUI: true}},
		{Name: "a path", Argv: []string{"x/../.."}, Usage: `"x/../.." is not a run id`},
	})
}

// Without a terminal, attach prints the run's record as plain lines and, unlike follow, exits
// with the run's own status: an aborted run is exit status 4.
func TestAttachRunEnded(t *testing.T) {
	state := t.TempDir()
	run := cmdtest.WriteRun(t, state, events.Event{Type: events.StepVerified, Step: "a"},
		events.Event{Type: events.RunFinished, Status: events.Aborted, Note: "aborted by a person"})
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, attach.NewCmdAttach, run.ID)
	var ec *exitcode.Err
	if !errors.As(err, &ec) || ec.Code != exitcode.Aborted || err.Error() != "run "+run.ID+" aborted" {
		t.Fatalf("attach to an aborted run: %v, want exit status %d", err, exitcode.Aborted)
	}
	if !strings.HasSuffix(out, "  run ABORTED — aborted by a person\n2026-12-04T13:37:18Z    next: `cairn report "+run.ID+"` for the record; `cairn resume "+run.ID+"` or `cairn rollback "+run.ID+"`\n") || errOut != "" {
		t.Fatalf("attach printed\nstdout %q\nstderr %q", out, errOut)
	}
}
