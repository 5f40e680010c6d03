// Package attach is `cairn attach <run-id>`: a view reconnected to a run that goes on without one,
// answering its questions (the TUI on a terminal, plain lines otherwise). Leaving the view leaves
// the run going.
package attach

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// AttachOptions are what `cairn attach` was given.
type AttachOptions struct {
	// Factory opens the view.
	Factory *cmdutil.Factory

	RunID string
	NoTUI bool
}

// NewCmdAttach builds `cairn attach`; runF replaces attachRun in tests.
func NewCmdAttach(f *cmdutil.Factory, runF func(context.Context, *AttachOptions) error) *cobra.Command {
	opts := &AttachOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "attach <run-id>",
		Short: "Reconnect a view to a running run (and answer its questions)",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return attachRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoTUI, "no-tui", false, "plain lines")
	return cmd
}

func attachRun(ctx context.Context, opts *AttachOptions) error {
	return shared.View(ctx, opts.Factory, opts.RunID, false, opts.NoTUI)
}
