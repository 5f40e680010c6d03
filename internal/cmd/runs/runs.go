// Package runs is `cairn runs`: every run under the state directory, one line each — how it ended,
// or whether it runs, waits for an answer, or was left unfinished — and the step it is at.
package runs

import (
	"context"
	"fmt"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// RunsOptions are what `cairn runs` was given.
type RunsOptions struct {
	IO       *cmdutil.IOStreams
	StateDir string
}

// NewCmdRuns builds `cairn runs`; runF replaces runsRun in tests.
func NewCmdRuns(f *cmdutil.Factory, runF func(context.Context, *RunsOptions) error) *cobra.Command {
	opts := &RunsOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "runs",
		Short: "List runs, unfinished ones with what they wait for",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.StateDir = f.StateDir()
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runsRun(cmd.Context(), opts)
		},
	}
}

func runsRun(_ context.Context, opts *RunsOptions) error {
	runs, err := shared.ListRuns(opts.StateDir)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintln(opts.IO.ErrOut, "no runs yet under "+opts.StateDir)
	}
	for _, r := range runs {
		fmt.Fprintf(opts.IO.Out, "%-30s %-16s %-20s %s  %s\n", r.ID, r.Runbook, r.Status, r.Started.Local().Format(time.RFC3339), r.Current)
	}
	return nil
}
