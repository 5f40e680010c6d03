package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/follow"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/events"
)

func TestNewCmdFollow(t *testing.T) {
	cmdtest.Table(t, follow.NewCmdFollow, func(o *follow.FollowOptions) { o.Factory = nil }, []cmdtest.Case[follow.FollowOptions]{
		{Name: "run id", Argv: []string{"a1b2c3"}, Want: follow.FollowOptions{RunID: "a1b2c3"}},
		{Name: "plain", Argv: []string{"--no-tui", "a1b2c3"}, Want: follow.FollowOptions{RunID: "a1b2c3", NoTUI: true}},
		{Name: "no run id", Usage: "which run? give its id: cairn follow <run-id>"},
	})
}

// Without a terminal, follow prints an ended run's record as plain lines, and exits 0 though the
// run failed: a follower reports, it does not fail with the run.
func TestFollowRun(t *testing.T) {
	state := t.TempDir()
	run := cmdtest.WriteRun(t, state, events.Event{Type: events.StepVerified, Step: "a"},
		events.Event{Type: events.RunFinished, Status: events.Aborted, Note: "aborted by a person"})
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, follow.NewCmdFollow, run.ID)
	id := run.ID
	want := "2026-12-04T13:37:18Z  run " + id + " started: rb —  (by cairn, target: -)\n" +
		"2026-12-04T13:37:18Z  [a] done\n" +
		"2026-12-04T13:37:18Z  run ABORTED — aborted by a person\n" +
		"2026-12-04T13:37:18Z    next: `cairn report " + id + "` for the record; `cairn resume " + id + "` or `cairn rollback " + id + "`\n"
	if err != nil || out != want || errOut != "" {
		t.Fatalf("follow: %v\nstdout %q\nwant   %q\nstderr %q", err, out, want, errOut)
	}
}
