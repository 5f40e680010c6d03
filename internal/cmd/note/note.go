// Package note is `cairn note <run-id> <text…>`: a note added to a run's record by its live runner
// (which journals who sent it). It changes nothing but the record.
package note

import (
	"context"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/spf13/cobra"
)

// NoteOptions are what `cairn note` was given.
type NoteOptions struct {
	IO       *cmdutil.IOStreams
	Getenv   func(string) string
	StateDir string

	RunID string
	Text  string
}

// NewCmdNote builds `cairn note`; runF replaces noteRun in tests.
func NewCmdNote(f *cmdutil.Factory, runF func(context.Context, *NoteOptions) error) *cobra.Command {
	opts := &NoteOptions{IO: f.IO, Getenv: f.Getenv}
	return &cobra.Command{
		Use:   "note <run-id> <text…>",
		Short: "Add a note to a run's record (its runner must be live)",
		Args:  cmdutil.RunIDArgs(2, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateDir, opts.RunID, opts.Text = f.StateDir(), args[0], strings.Join(args[1:], " ")
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return noteRun(cmd.Context(), opts)
		},
	}
}

func noteRun(ctx context.Context, opts *NoteOptions) error {
	run, err := journal.Open(opts.StateDir, opts.RunID)
	if err != nil {
		return err
	}
	rep, err := shared.Tell(ctx, opts.Getenv, run, journal.Request{Kind: journal.AskNote, Via: "cairn note", Text: opts.Text})
	if err != nil {
		return err
	}
	return shared.ReplyErr(rep)
}
