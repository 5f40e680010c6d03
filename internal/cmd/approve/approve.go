// Package approve is `cairn approve <run-id>`: a second engineer approves (or, with --refuse,
// refuses) the step a run waits on. It only answers the run's open approval question through the
// run's live runner, which judges who may approve; it changes nothing else.
package approve

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/spf13/cobra"
)

// ApproveOptions are what `cairn approve` was given.
type ApproveOptions struct {
	IO       *cmdutil.IOStreams
	Getenv   func(string) string
	StateDir string

	RunID  string
	Refuse bool
}

// NewCmdApprove builds `cairn approve`; runF replaces approveRun in tests.
func NewCmdApprove(f *cmdutil.Factory, runF func(context.Context, *ApproveOptions) error) *cobra.Command {
	opts := &ApproveOptions{IO: f.IO, Getenv: f.Getenv}
	cmd := &cobra.Command{
		Use:   "approve <run-id>",
		Short: "Approve the step a run is waiting on (as a second engineer)",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateDir, opts.RunID = f.StateDir(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return approveRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Refuse, "refuse", false, "refuse instead: the run stops before the step")
	return cmd
}

func approveRun(ctx context.Context, opts *ApproveOptions) error {
	run, err := journal.Open(opts.StateDir, opts.RunID)
	if err != nil {
		return err
	}
	st, err := shared.Fold(run)
	if err != nil {
		return err
	}
	q := st.Open
	if q == nil || q.Kind != events.AskApproval {
		return fmt.Errorf("run %s is not waiting for an approval", run.ID)
	}
	choice := events.Approve
	if opts.Refuse {
		choice = events.Refuse
	}
	rep, err := shared.Tell(ctx, opts.Getenv, run, journal.Request{Kind: journal.AskAnswer, Via: "cairn approve",
		Answer: &events.Answer{QuestionID: q.ID, Choice: choice}})
	if err != nil {
		return err
	}
	if err := shared.ReplyErr(rep); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "%s: %s\n", run.ID, rep.Message)
	return nil
}
