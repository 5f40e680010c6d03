package root

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/spf13/cobra"
)

func newCmdApprove(f *cmdutil.Factory) *cobra.Command {
	var refuse bool
	cmd := &cobra.Command{
		Use:   "approve <run-id>",
		Short: "Approve the step a run is waiting on (as a second engineer)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := journal.Open(f.StateDir(), args[0])
			if err != nil {
				return err
			}
			st, err := fold(run)
			if err != nil {
				return err
			}
			q := st.Open
			if q == nil || q.Kind != events.AskApproval {
				return fmt.Errorf("run %s is not waiting for an approval", run.ID)
			}
			who := launch.Who(f.Getenv)
			who.Via = "cairn approve"
			meta, _ := run.Meta()
			if who.User == meta.StartedBy {
				return fmt.Errorf("approval refused: %s started run %s and cannot approve it; another engineer runs `cairn approve %s`", who.User, run.ID, run.ID)
			}
			choice := "approve"
			if refuse {
				choice = "refuse"
			}
			if err := journal.WriteAnswer(run, events.Answer{QuestionID: q.ID, Choice: choice, By: &who}); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "%s: step %s %sd by %s\n", run.ID, q.Step, choice, who.User)
			return nil
		},
	}
	cmd.Flags().BoolVar(&refuse, "refuse", false, "refuse instead: the run stops before the step")
	return cmd
}

func newCmdNote(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "note <run-id> <text…>",
		Short: "Add a note to a run's record",
		Args:  cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := journal.Open(f.StateDir(), args[0])
			if err != nil {
				return err
			}
			who := launch.Who(f.Getenv)
			return journal.PostInbox(run, journal.InboxItem{Kind: "note", Text: strings.Join(args[1:], " "), By: &who})
		},
	}
}

func newCmdPause(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "pause <run-id>",
		Short: "Pause a run before its next step (it asks to continue)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := journal.Open(f.StateDir(), args[0])
			if err != nil {
				return err
			}
			if _, alive := journal.Holder(run); !alive {
				return errors.New("run " + run.ID + " has no live runner: nothing to pause")
			}
			who := launch.Who(f.Getenv)
			return journal.PostInbox(run, journal.InboxItem{Kind: "pause", By: &who})
		},
	}
}
