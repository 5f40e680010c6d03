package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/note"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

func TestNewCmdNote(t *testing.T) {
	cmdtest.Table(t, note.NewCmdNote, func(o *note.NoteOptions) { o.IO, o.Getenv = nil, nil }, []cmdtest.Case[note.NoteOptions]{
		{Name: "one word", Argv: []string{"a1b2c3", "checked"}, Want: note.NoteOptions{StateDir: "/state", RunID: "a1b2c3", Text: "checked"}},
		{Name: "words joined", Argv: []string{"a1b2c3", "replica", "lag", "0s"}, Want: note.NoteOptions{StateDir: "/state", RunID: "a1b2c3", Text: "replica lag 0s"}},
		{Name: "no text", Argv: []string{"a1b2c3"}, Usage: "requires at least 2 arg(s), only received 1"},
		{Name: "a path", Argv: []string{"/etc", "x"}, Usage: `"/etc" is not a run id`},
	})
}

// A note needs the run's live runner (it journals who sent it); without one nothing is written.
func TestNoteRunWithoutRunner(t *testing.T) {
	state := t.TempDir()
	run := cmdtest.WriteRun(t, state)
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, note.NewCmdNote, run.ID, "hello")
	want := "run " + run.ID + ": no live runner, so nothing can answer it or be noted in it now: `cairn resume " + run.ID + "` starts one (it asks its open question again)"
	if err == nil || err.Error() != want || out != "" || errOut != "" {
		t.Fatalf("note: %v, stdout %q, stderr %q; want error %q", err, out, errOut, want)
	}
}
