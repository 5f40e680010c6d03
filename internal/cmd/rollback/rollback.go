// Package rollback is `cairn rollback <run-id>`: a new runner walks a finished or abandoned run
// back, undoing newest first each step it applied — the step whose apply started and did not end
// verified first, as partially applied — each rollback confirmed — or, once the run has
// applied a step its runbook marks point_of_no_return, runs the runbook's cut-back. A rollback that
// completes exits 0.
package rollback

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// RollbackOptions are what `cairn rollback` was given: the run id and the run flags.
type RollbackOptions = shared.RestartOptions

// NewCmdRollback builds `cairn rollback`; runF replaces rollbackRun in tests.
func NewCmdRollback(f *cmdutil.Factory, runF func(context.Context, *RollbackOptions) error) *cobra.Command {
	return shared.NewCmdRestart(f, "rollback <run-id>", "Undo, newest first, each step a finished or abandoned run applied or started applying, each confirmed (past its point of no return: the runbook's cut-back)", false, runF, rollbackRun)
}

func rollbackRun(ctx context.Context, opts *RollbackOptions) error {
	return shared.Restart(ctx, opts.Factory, opts.RunID, "rollback", opts.RunFlags, false)
}
