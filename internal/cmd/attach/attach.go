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

// AttachOptions are what `cairn attach` was given: the run id and --no-tui.
type AttachOptions = shared.ViewOptions

// NewCmdAttach builds `cairn attach`; runF replaces attachRun in tests.
func NewCmdAttach(f *cmdutil.Factory, runF func(context.Context, *AttachOptions) error) *cobra.Command {
	return shared.NewCmdView(f, "attach <run-id>", "Reconnect a view to a running run (and answer its questions)", runF, attachRun)
}

func attachRun(ctx context.Context, opts *AttachOptions) error {
	return shared.View(ctx, opts.Factory, opts.RunID, false, opts.NoTUI)
}
