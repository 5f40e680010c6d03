// Package root assembles cairn's command tree and nothing else: every verb lives in its own
// package under internal/cmd (cli/cli's pkg/cmd/<noun>/<verb>: an options struct, a constructor
// NewCmdX(f, runF) and a run function; RunE only parses and validates; dependencies come from the
// Factory so tests swap them). The root's own work is bare `cairn` on a terminal: the wizard's Home.
//
// Each verb's argv → options table and output tests live here, in package root_test (one file per
// verb, through cmdtest), not beside the verb: every verb links the whole of cairn, so one test
// binary instead of one per verb saves about 5 s of linking per verb on the 2-core machine.
package root

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/approve"
	"github.com/cairn-runbooks/cairn/internal/cmd/attach"
	"github.com/cairn-runbooks/cairn/internal/cmd/follow"
	"github.com/cairn-runbooks/cairn/internal/cmd/list"
	"github.com/cairn-runbooks/cairn/internal/cmd/note"
	"github.com/cairn-runbooks/cairn/internal/cmd/pause"
	"github.com/cairn-runbooks/cairn/internal/cmd/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/cmd/plan"
	"github.com/cairn-runbooks/cairn/internal/cmd/report"
	"github.com/cairn-runbooks/cairn/internal/cmd/resume"
	"github.com/cairn-runbooks/cairn/internal/cmd/rollback"
	"github.com/cairn-runbooks/cairn/internal/cmd/run"
	"github.com/cairn-runbooks/cairn/internal/cmd/runner"
	"github.com/cairn-runbooks/cairn/internal/cmd/runs"
	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmd/show"
	"github.com/cairn-runbooks/cairn/internal/cmd/twin"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// NewCmdRoot builds the whole command tree.
func NewCmdRoot(f *cmdutil.Factory) *cobra.Command {
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
				return shared.RunHome(cmd.Context(), f, cmdutil.RunbookFiles(cmd))
			}
			return cmd.Help()
		},
	}
	cmdutil.AddFileFlag(cmd)
	cmd.SetFlagErrorFunc(cmdutil.FlagErrorFunc)
	cmd.AddCommand(
		list.NewCmdList(f, nil),
		show.NewCmdShow(f, nil),
		plan.NewCmdPlan(f, nil),
		run.NewCmdRun(f, nil),
		resume.NewCmdResume(f, nil),
		rollback.NewCmdRollback(f, nil),
		attach.NewCmdAttach(f, nil),
		follow.NewCmdFollow(f, nil),
		runs.NewCmdRuns(f, nil),
		report.NewCmdReport(f, nil),
		approve.NewCmdApprove(f, nil),
		note.NewCmdNote(f, nil),
		pause.NewCmdPause(f, nil),
		runner.NewCmdRunner(f, nil),
		pgcluster.NewCmdPGCluster(f, nil),
		twin.NewCmdTwin(f),
	)
	return cmd
}
