// Package pause is `cairn pause <run-id>`: the run's live runner pauses before its next step and
// asks to continue. A step in flight finishes; nothing is rolled back.
package pause

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/spf13/cobra"
)

// PauseOptions are what `cairn pause` was given.
type PauseOptions struct {
	IO       *cmdutil.IOStreams
	Getenv   func(string) string
	StateDir string

	RunID string
}

// NewCmdPause builds `cairn pause`; runF replaces pauseRun in tests.
func NewCmdPause(f *cmdutil.Factory, runF func(context.Context, *PauseOptions) error) *cobra.Command {
	opts := &PauseOptions{IO: f.IO, Getenv: f.Getenv}
	return &cobra.Command{
		Use:   "pause <run-id>",
		Short: "Pause a run before its next step (it asks to continue)",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateDir, opts.RunID = f.StateDir(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return pauseRun(cmd.Context(), opts)
		},
	}
}

func pauseRun(ctx context.Context, opts *PauseOptions) error {
	run, err := journal.Open(opts.StateDir, opts.RunID)
	if err != nil {
		return err
	}
	rep, err := shared.Tell(ctx, opts.Getenv, run, journal.Request{Kind: journal.AskPause, Via: "cairn pause"})
	if errors.Is(err, journal.ErrNoRunner) {
		return fmt.Errorf("run %s has no live runner: nothing to pause", run.ID)
	}
	if err != nil {
		return err
	}
	if err := shared.ReplyErr(rep); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "%s: %s\n", run.ID, rep.Message)
	return nil
}
