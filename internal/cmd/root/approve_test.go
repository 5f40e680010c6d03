package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/approve"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/events"
)

func TestNewCmdApprove(t *testing.T) {
	cmdtest.Table(t, approve.NewCmdApprove, func(o *approve.ApproveOptions) { o.IO, o.Getenv = nil, nil }, []cmdtest.Case[approve.ApproveOptions]{
		{Name: "run id", Argv: []string{"a1b2c3"}, Want: approve.ApproveOptions{StateDir: "/state", RunID: "a1b2c3"}},
		{Name: "refuse", Argv: []string{"--refuse", "20261204-133718.123-a1b2c3"}, Want: approve.ApproveOptions{StateDir: "/state", RunID: "20261204-133718.123-a1b2c3", Refuse: true}},
		{Name: "no run id", Argv: nil, Usage: "which run? give its id: cairn approve <run-id>"},
		{Name: "two run ids", Argv: []string{"a1b2c3", "d4e5f6"}, Usage: "accepts 1 arg(s), received 2"},
		{Name: "a path", Argv: []string{"../a1b2c3"}, Usage: `"../a1b2c3" is not a run id`},
		{Name: "unknown flag", Argv: []string{"a1b2c3", "--yes"}, Usage: "unknown flag: --yes"},
	})
}

// approve answers only an open approval: a run that asks for a confirmation (or nothing) is not
// approved by it, and nothing is printed; an approval with no live runner to take it says so.
func TestApproveRun(t *testing.T) {
	state := t.TempDir()
	env := map[string]string{"CAIRN_STATE_DIR": state}
	confirm := cmdtest.WriteRun(t, state, events.Event{Type: events.QuestionAsked, Step: "a",
		Question: &events.Question{ID: "q1", Kind: events.AskConfirm, Purpose: events.PurposeApply}})
	approval := cmdtest.WriteRun(t, state, events.Event{Type: events.QuestionAsked, Step: "a",
		Question: &events.Question{ID: "q1", Kind: events.AskApproval, Purpose: events.PurposeApproval}})
	for _, tt := range []struct{ id, err string }{
		{confirm.ID, "run " + confirm.ID + " is not waiting for an approval"},
		{approval.ID, "run " + approval.ID + ": no live runner, so nothing can answer it or be noted in it now: `cairn resume " + approval.ID + "` starts one (it asks its open question again)"},
	} {
		out, errOut, err := cmdtest.Output(env, approve.NewCmdApprove, tt.id)
		if err == nil || err.Error() != tt.err || out != "" || errOut != "" {
			t.Errorf("approve %s: %v, stdout %q, stderr %q; want error %q and nothing printed", tt.id, err, out, errOut, tt.err)
		}
	}
}
