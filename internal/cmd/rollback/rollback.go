// Package rollback is `cairn rollback <run-id>`: a new runner walks a finished or abandoned run
// back, newest step first, each rollback confirmed. A rollback that completes exits 0.
package rollback

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// RollbackOptions are what `cairn rollback` was given.
type RollbackOptions struct {
	// Factory starts the runner and the view.
	Factory *cmdutil.Factory

	RunID string
	shared.RunFlags
}

// NewCmdRollback builds `cairn rollback`; runF replaces rollbackRun in tests.
func NewCmdRollback(f *cmdutil.Factory, runF func(context.Context, *RollbackOptions) error) *cobra.Command {
	opts := &RollbackOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "rollback <run-id>",
		Short: "Walk back a finished or abandoned run, newest step first, each confirmed",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return rollbackRun(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd)
	return cmd
}

func rollbackRun(ctx context.Context, opts *RollbackOptions) error {
	return shared.Restart(ctx, opts.Factory, opts.RunID, "rollback", opts.RunFlags, false)
}
