// Package follow is `cairn follow <run-id>`: a read-only live view of a run (pairing: a second
// terminal, or over ssh). It answers nothing and exits 0 however the run ends; only leaving the
// view early is reported (exit status 6).
package follow

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// FollowOptions are what `cairn follow` was given.
type FollowOptions struct {
	// Factory opens the view.
	Factory *cmdutil.Factory

	RunID string
	NoTUI bool
}

// NewCmdFollow builds `cairn follow`; runF replaces followRun in tests.
func NewCmdFollow(f *cmdutil.Factory, runF func(context.Context, *FollowOptions) error) *cobra.Command {
	opts := &FollowOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "follow <run-id>",
		Short: "Watch a run read-only, live (pairing: a second terminal, or over ssh)",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return followRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoTUI, "no-tui", false, "plain lines")
	return cmd
}

func followRun(ctx context.Context, opts *FollowOptions) error {
	return shared.View(ctx, opts.Factory, opts.RunID, true, opts.NoTUI)
}
