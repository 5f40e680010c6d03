package root

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/spf13/cobra"
)

// tell sends a request to a run's live runner. Who sends it is for the runner to find out from the
// kernel; SUDO_UID goes along and counts only if the kernel says this process is root.
func tell(ctx context.Context, f *cmdutil.Factory, run *journal.Run, req journal.Request) (journal.Reply, error) {
	req.SudoUID = f.Getenv("SUDO_UID")
	return journal.Send(ctx, run, req)
}

// replyErr turns a reply the runner did not act on into an error.
func replyErr(rep journal.Reply) error {
	if rep.Status == journal.ReplyDone {
		return nil
	}
	return errors.New(rep.Message)
}

func newCmdApprove(f *cmdutil.Factory) *cobra.Command {
	var refuse bool
	cmd := &cobra.Command{
		Use:   "approve <run-id>",
		Short: "Approve the step a run is waiting on (as a second engineer)",
		Args:  runIDArgs(1, false),
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
			choice := events.Approve
			if refuse {
				choice = events.Refuse
			}
			rep, err := tell(cmd.Context(), f, run, journal.Request{Kind: journal.AskAnswer, Via: "cairn approve",
				Answer: &events.Answer{QuestionID: q.ID, Choice: choice}})
			if err != nil {
				return err
			}
			if err := replyErr(rep); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "%s: %s\n", run.ID, rep.Message)
			return nil
		},
	}
	cmd.Flags().BoolVar(&refuse, "refuse", false, "refuse instead: the run stops before the step")
	return cmd
}

func newCmdNote(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "note <run-id> <text…>",
		Short: "Add a note to a run's record (its runner must be live)",
		Args:  runIDArgs(2, true),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := journal.Open(f.StateDir(), args[0])
			if err != nil {
				return err
			}
			rep, err := tell(cmd.Context(), f, run, journal.Request{Kind: journal.AskNote, Via: "cairn note", Text: strings.Join(args[1:], " ")})
			if err != nil {
				return err
			}
			return replyErr(rep)
		},
	}
}

func newCmdPause(f *cmdutil.Factory) *cobra.Command {
	return &cobra.Command{
		Use:   "pause <run-id>",
		Short: "Pause a run before its next step (it asks to continue)",
		Args:  runIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := journal.Open(f.StateDir(), args[0])
			if err != nil {
				return err
			}
			rep, err := tell(cmd.Context(), f, run, journal.Request{Kind: journal.AskPause, Via: "cairn pause"})
			if errors.Is(err, journal.ErrNoRunner) {
				return fmt.Errorf("run %s has no live runner: nothing to pause", run.ID)
			}
			if err != nil {
				return err
			}
			if err := replyErr(rep); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "%s: %s\n", run.ID, rep.Message)
			return nil
		},
	}
}
