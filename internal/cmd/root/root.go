// Package root assembles cairn's command tree (cli/cli style: each command an options struct, a
// constructor and a run function; RunE only parses and validates; dependencies come from the
// Factory so tests swap them).
package root

import (
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
	var files []string
	cmd := &cobra.Command{
		Use:   "cairn",
		Short: "Walk through database maintenance runbooks step by step, checked before and after, with rollback",
		Long: `cairn walks an engineer through database maintenance runbooks: every step is checked before and
verified after, destructive steps are confirmed, and a failed step offers retry, roll back, skip or
abort. A run is journaled and outlives its terminal: attach, follow, resume and report at any time.

Exit statuses: 0 done · 1 error, nothing run · 2 usage · 3 run stopped on a failed step ·
4 aborted · 5 failed and rolled back · 6 view left, run goes on · 7 another runner drives the run.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if f.IO.IsTerminal {
				return runHome(cmd.Context(), f, files)
			}
			return cmd.Help()
		},
	}
	cmd.PersistentFlags().StringArrayVar(&files, "file", nil, "also load the runbook in this YAML `file` (repeatable)")
	cmd.AddCommand(
		newCmdList(f, &files),
		newCmdShow(f, &files),
		newCmdPlan(f, &files),
		newCmdRun(f, &files),
		newCmdResume(f),
		newCmdRollback(f),
		newCmdAttach(f),
		newCmdFollow(f),
		newCmdRuns(f),
		newCmdReport(f),
		newCmdApprove(f),
		newCmdNote(f),
		newCmdPause(f),
		newCmdRunner(f),
		newCmdPGCluster(f),
	)
	for _, c := range extraCommands(f) {
		cmd.AddCommand(c)
	}
	return cmd
}
