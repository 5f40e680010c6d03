// Package resume is `cairn resume <run-id>`: a new runner continues a run after a crash, an abort
// or an interruption. Verified steps are never repeated; a step in flight is checked first. With
// --take-over it first stops the run's live runner on this host (only one proven to be it).
package resume

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ResumeOptions are what `cairn resume` was given.
type ResumeOptions struct {
	// Factory starts the runner and the view.
	Factory *cmdutil.Factory

	RunID string
	shared.RunFlags
	TakeOver bool
}

// NewCmdResume builds `cairn resume`; runF replaces resumeRun in tests.
func NewCmdResume(f *cmdutil.Factory, runF func(context.Context, *ResumeOptions) error) *cobra.Command {
	opts := &ResumeOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "resume <run-id>",
		Short: "Continue a run after a crash or an abort: completed steps are not repeated",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return resumeRun(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd)
	cmd.Flags().BoolVar(&opts.TakeOver, "take-over", false, "stop the live runner of this run (a step in flight is re-checked, never repeated blindly) and drive the run yourself; recorded in the journal")
	return cmd
}

func resumeRun(ctx context.Context, opts *ResumeOptions) error {
	return shared.Restart(ctx, opts.Factory, opts.RunID, "run", opts.RunFlags, opts.TakeOver)
}
