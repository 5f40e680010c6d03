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

// FollowOptions are what `cairn follow` was given: the run id and --no-tui.
type FollowOptions = shared.ViewOptions

// NewCmdFollow builds `cairn follow`; runF replaces followRun in tests.
func NewCmdFollow(f *cmdutil.Factory, runF func(context.Context, *FollowOptions) error) *cobra.Command {
	return shared.NewCmdView(f, "follow <run-id>", "Watch a run read-only, live (pairing: a second terminal, or over ssh)", runF, followRun)
}

func followRun(ctx context.Context, opts *FollowOptions) error {
	return shared.View(ctx, opts.Factory, opts.RunID, true, opts.NoTUI)
}
