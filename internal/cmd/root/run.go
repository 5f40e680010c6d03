package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

const pollEvery = 100 * time.Millisecond

type runOptions struct {
	Params      []string
	SecretFiles []string
	Yes         bool
	NoTUI       bool
	OnFailure   string
	Confirm     []string
	Rehearsal   bool
	Window      time.Duration
	Until       string
	Approvals   int
	Detach      bool
	TakeOver    bool
}

func (o *runOptions) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "answer yes/no confirmations and checklists with yes")
	cmd.Flags().BoolVar(&o.NoTUI, "no-tui", false, "plain timestamped lines instead of the TUI")
	cmd.Flags().StringVar(&o.OnFailure, "on-failure", "", "when a step fails and no one is there to decide: `abort|rollback`")
	cmd.Flags().StringArrayVar(&o.Confirm, "confirm", nil, "typed confirmation for a destructive step: `step-id=value`")
	cmd.Flags().StringArrayVar(&o.SecretFiles, "secret-file", nil, "read secret parameter from a 0600 file: `name=path`")
	cmd.Flags().BoolVar(&o.Detach, "detach", false, "start the run and return at once (`cairn attach <id>` later)")
}

func (o *runOptions) policy(interactive bool) (journal.Policy, error) {
	confirm, err := runbooks.ParseAssignments(o.Confirm)
	if err != nil {
		return journal.Policy{}, &usageErr{fmt.Errorf("--confirm: %w", err)}
	}
	switch o.OnFailure {
	case "", "abort", "rollback":
	default:
		return journal.Policy{}, &usageErr{fmt.Errorf("--on-failure %q: use abort or rollback", o.OnFailure)}
	}
	return journal.Policy{Yes: o.Yes, Confirm: confirm, OnFailure: events.Decision(o.OnFailure), Interactive: interactive}, nil
}

func newCmdRun(f *cmdutil.Factory, files *[]string) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run <runbook> [-p name=value…]",
		Short: "Run a runbook (the TUI on a terminal; plain lines otherwise)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			rb, given, err := runbookAndParams(*files, args[0], o.Params)
			if err != nil {
				return err
			}
			windowEnd, err := windowEnd(time.Now(), o.Window, o.Until)
			if err != nil {
				return &usageErr{err}
			}
			useTUI := f.IO.IsTerminal && !o.NoTUI
			if useTUI {
				return runTUI(cmd.Context(), f, rb, given, o, windowEnd)
			}
			interactive := stdinIsTerminal() && !o.Detach
			policy, err := o.policy(interactive)
			if err != nil {
				return err
			}
			src, err := sources(f, o.SecretFiles, false)
			if err != nil {
				return err
			}
			vals, err := runbooks.Resolve(rb, given, src)
			if err != nil {
				return fmt.Errorf("%w\nnothing was run", err)
			}
			who := launch.Who(f.Getenv)
			run, err := launch.NewRun(f.StateDir(), rb, vals, policy, who, time.Now(), func(m *journal.Meta) {
				m.Rehearsal, m.WindowEnd, m.Approvals = o.Rehearsal, windowEnd, o.Approvals
			})
			if err != nil {
				return err
			}
			if _, err := launch.Start(f.Executable, run, "run", launch.Secrets(vals), launch.Environ(rb, os.Environ())); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.ErrOut, "run %s started (journal: %s)\n", run.ID, run.Dir)
			if o.Detach {
				fmt.Fprintf(f.IO.Out, "%s\n", run.ID)
				return nil
			}
			return watch(cmd.Context(), f, run, false, 0)
		},
	}
	cmd.Flags().StringArrayVarP(&o.Params, "param", "p", nil, "parameter `name=value` (repeatable)")
	o.flags(cmd)
	cmd.Flags().BoolVar(&o.Rehearsal, "rehearsal", false, "mark this run as a rehearsal (its timings feed later ETAs)")
	cmd.Flags().DurationVar(&o.Window, "window", 0, "maintenance window length from now, e.g. 45m")
	cmd.Flags().StringVar(&o.Until, "until", "", "maintenance window end, local time `HH:MM` (past midnight handled)")
	cmd.Flags().IntVar(&o.Approvals, "approvals", 0, "destructive steps need this many people (the starter + others running `cairn approve`)")
	return cmd
}

// watch follows a run in plain lines until it ends; ctrl-c leaves the run going.
// after is the journal's last sequence number before this invocation started a runner (0 for a new
// run): an earlier runner's finish does not end the view.
func watch(ctx context.Context, f *cmdutil.Factory, run *journal.Run, readOnly bool, after int64) error {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	status := follow(ctx, f, run, readOnly, after)
	if status == "" {
		fmt.Fprintf(f.IO.ErrOut, "\nleft the view; the run goes on in the background: `cairn attach %s` (`cairn pause %s` to pause it)\n", run.ID, run.ID)
		return &exitcode.Err{Code: exitcode.Detached}
	}
	if code := exitcode.ForStatus(status); code != exitcode.OK {
		return &exitcode.Err{Code: code, Err: fmt.Errorf("run %s %s", run.ID, status)}
	}
	return nil
}

// windowEnd works out the maintenance window's end from --window or --until (local time).
func windowEnd(now time.Time, window time.Duration, until string) (time.Time, error) {
	if window < 0 {
		return time.Time{}, fmt.Errorf("--window %s: give the window's length from now, such as 45m", window)
	}
	if window > 0 && until != "" {
		return time.Time{}, errors.New("give --window or --until, not both")
	}
	if window > 0 {
		return now.Add(window), nil
	}
	if until == "" {
		return time.Time{}, nil
	}
	t, err := time.ParseInLocation("15:04", until, now.Location())
	if err != nil {
		return time.Time{}, fmt.Errorf("--until %q: write a local time as HH:MM, e.g. 03:00", until)
	}
	end := time.Date(now.Year(), now.Month(), now.Day(), t.Hour(), t.Minute(), 0, 0, now.Location())
	if !end.After(now) {
		end = end.AddDate(0, 0, 1) // past midnight
	}
	return end, nil
}
