// Package run is `cairn run <runbook>`: a new run of a runbook. On a terminal it opens the wizard on
// the runbook's parameters; otherwise it resolves the parameters, starts a detached runner and
// follows it in plain lines (or, with --detach, prints the run id and returns). Nothing is run when
// a parameter or flag is wrong.
package run

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui"
	"github.com/spf13/cobra"
)

// RunOptions are what `cairn run` was given.
type RunOptions struct {
	// Factory starts the runner and the view.
	Factory *cmdutil.Factory

	Runbook string
	// Files are the --file runbooks, loaded beside the built-in ones.
	Files  []string
	Params []string
	shared.RunFlags
	Rehearsal bool
	Window    time.Duration
	Until     string
	Approvals int
}

// NewCmdRun builds `cairn run`; runF replaces runRun in tests.
func NewCmdRun(f *cmdutil.Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	opts := &RunOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "run <runbook> [-p name=value…]",
		Short: "Run a runbook (the TUI on a terminal; plain lines otherwise)",
		Args:  cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Runbook, opts.Files = args[0], cmdutil.RunbookFiles(cmd)
			if err := opts.Validate(); err != nil {
				return err
			}
			if _, err := windowEnd(time.Now(), opts.Window, opts.Until); err != nil {
				return cmdutil.FlagErrorWrap(err)
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Params, "param", "p", nil, "parameter `name=value` (repeatable)")
	opts.AddFlags(cmd)
	cmd.Flags().BoolVar(&opts.Rehearsal, "rehearsal", false, "mark this run as a rehearsal (its timings feed later ETAs)")
	cmd.Flags().DurationVar(&opts.Window, "window", 0, "maintenance window length from now, e.g. 45m")
	cmd.Flags().StringVar(&opts.Until, "until", "", "maintenance window end, local time `HH:MM` (past midnight handled)")
	cmd.Flags().IntVar(&opts.Approvals, "approvals", 0, "destructive steps need this many people (the starter + others running `cairn approve`)")
	return cmd
}

func runRun(ctx context.Context, opts *RunOptions) error {
	f := opts.Factory
	rb, given, err := shared.RunbookAndParams(opts.Files, opts.Runbook, opts.Params)
	if err != nil {
		return err
	}
	windowEnd, err := windowEnd(time.Now(), opts.Window, opts.Until)
	if err != nil {
		return cmdutil.FlagErrorWrap(err)
	}
	if f.IO.IsTerminal && !opts.NoTUI {
		return shared.RunTUI(ctx, f, rb, given, &opts.RunFlags,
			tui.StartOptions{Rehearsal: opts.Rehearsal, WindowEnd: windowEnd, Approvals: opts.Approvals})
	}
	interactive := f.IO.CanPrompt() && !opts.Detach
	policy, err := opts.Policy(interactive)
	if err != nil {
		return err
	}
	src, err := shared.Sources(f, opts.SecretFiles, false)
	if err != nil {
		return err
	}
	vals, err := runbooks.Resolve(rb, given, src)
	if err != nil {
		return fmt.Errorf("%w\nnothing was run", err)
	}
	who := launch.Who(f.Getenv)
	run, err := launch.NewRun(f.StateDir(), rb, vals, policy, who, time.Now(), func(m *journal.Meta) {
		m.Rehearsal, m.WindowEnd, m.Approvals = opts.Rehearsal, windowEnd, opts.Approvals
	})
	if err != nil {
		return err
	}
	if _, err := launch.Start(f.Executable, run, "run", launch.Secrets(vals), launch.Environ(rb, os.Environ())); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "run %s started (journal: %s)\n", run.ID, run.Dir)
	if opts.Detach {
		fmt.Fprintf(f.IO.Out, "%s\n", run.ID)
		return nil
	}
	return shared.Watch(ctx, f, run, false, 0)
}
