// Package rollback is `cairn rollback <run-id>`: a new runner walks a finished or abandoned run
// back, undoing newest first each step it applied — the step whose apply started and did not end
// verified first, as partially applied — each rollback confirmed — or, once the run has
// applied a step its runbook marks point_of_no_return, runs the runbook's cut-back. A run that
// succeeded past its point of no return, or applied a destructive step after it, is refused unless
// --after-success is given. A rollback that completes exits 0.
package rollback

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/spf13/cobra"
)

// RollbackOptions are what `cairn rollback` was given: the run id and the run flags.
type RollbackOptions = shared.RestartOptions

// NewCmdRollback builds `cairn rollback`; runF replaces rollbackRun in tests.
func NewCmdRollback(f *cmdutil.Factory, runF func(context.Context, *RollbackOptions) error) *cobra.Command {
	return shared.NewCmdRestart(f, "rollback <run-id>", "Undo, newest first, each step a finished or abandoned run applied or started applying, each confirmed (past its point of no return: the runbook's cut-back)", false, runF, rollbackRun)
}

func rollbackRun(ctx context.Context, opts *RollbackOptions) error {
	if !opts.AfterSuccess {
		if err := refuseBeyondReturn(opts); err != nil {
			return err
		}
	}
	return shared.Restart(ctx, opts.Factory, opts.RunID, "rollback", opts.RunFlags, false)
}

// refuseBeyondReturn refuses the rollback of a run whose outcome it would undo (beyondReturn).
func refuseBeyondReturn(opts *RollbackOptions) error {
	run, err := journal.Open(opts.Factory.StateDir(), opts.RunID)
	if err != nil {
		return err
	}
	rb, _, err := shared.RunRunbook(run)
	if err != nil {
		return err
	}
	st, err := shared.Fold(run)
	if err != nil {
		return err
	}
	if why := beyondReturn(rb, st); why != "" {
		return refuseAfterSuccess(run.ID, why)
	}
	return nil
}
