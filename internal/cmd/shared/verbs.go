package shared

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ViewOptions are what attach and follow were given.
type ViewOptions struct {
	// Factory opens the view.
	Factory *cmdutil.Factory

	RunID string
	NoTUI bool
}

// NewCmdView builds a verb that views one run (attach, follow): it parses the run id and --no-tui
// and hands them to runF when a test gave one, else to run.
func NewCmdView(f *cmdutil.Factory, use, short string, runF, run func(context.Context, *ViewOptions) error) *cobra.Command {
	opts := &ViewOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	cmd.Flags().BoolVar(&opts.NoTUI, "no-tui", false, "plain lines")
	return cmd
}

// RestartOptions are what resume and rollback were given.
type RestartOptions struct {
	// Factory starts the runner and the view.
	Factory *cmdutil.Factory

	RunID string
	RunFlags
	// TakeOver (resume only) stops the run's live runner first.
	TakeOver bool
	// AfterSuccess (rollback only) rolls back a run past its point of no return that succeeded or
	// applied a destructive step after that point; refused without it.
	AfterSuccess bool
}

// NewCmdRestart builds a verb that starts a runner again on a run (resume, rollback; --take-over
// when takeOver, else --after-success): it parses and validates the run id and the run flags and hands them to runF
// when a test gave one, else to run.
func NewCmdRestart(f *cmdutil.Factory, use, short string, takeOver bool, runF, run func(context.Context, *RestartOptions) error) *cobra.Command {
	opts := &RestartOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.RunID = args[0]
			if err := opts.Validate(); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return run(cmd.Context(), opts)
		},
	}
	opts.AddFlags(cmd)
	if takeOver {
		cmd.Flags().BoolVar(&opts.TakeOver, "take-over", false, "stop the live runner of this run (a step in flight is re-checked, never repeated blindly) and drive the run yourself; recorded in the journal")
	} else {
		cmd.Flags().BoolVar(&opts.AfterSuccess, "after-success", false, "roll back a run that succeeded past its point of no return (or applied a destructive step after it): its cut-back deletes what serves now, each such deletion confirmed typed")
	}
	return cmd
}
