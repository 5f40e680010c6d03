package root

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"
)

// restart starts a runner again on an existing run (resume or rollback).
func restart(cmd *cobra.Command, f *cmdutil.Factory, id, mode string, o *runOptions) error {
	run, err := journal.Open(f.StateDir(), id)
	if err != nil {
		return err
	}
	// only its creator drives a run, and only one no one else could have changed
	if err := journal.Check(run, journal.ToDrive); err != nil {
		return err
	}
	if holder, alive := journal.Holder(run); alive {
		if !o.TakeOver {
			return &exitcode.Err{Code: exitcode.Locked, Err: fmt.Errorf("run %s is being driven by %s: `cairn attach %s` to watch it, or `cairn resume %s --take-over` to stop that runner (a step in flight is re-checked) and drive the run yourself", run.ID, holder, run.ID, run.ID)}
		}
		if err := takeOver(cmd.Context(), run, holder, launch.Who(f.Getenv)); err != nil {
			return err
		}
	}
	rb, meta, err := runRunbook(run)
	if err != nil {
		return err
	}
	interactive := stdinIsTerminal() && !o.Detach
	policy, err := o.policy(interactive)
	if err != nil {
		return err
	}
	meta.Policy = policy
	if err := writeMeta(run, meta); err != nil {
		return err
	}
	secrets, err := askSecretsAgain(f, rb, meta, o.SecretFiles)
	if err != nil {
		return err
	}
	after := journal.LastSeq(run)
	if _, err := launch.Start(f.Executable, run, mode, secrets, launch.Environ(rb, os.Environ())); err != nil {
		return err
	}
	fmt.Fprintf(f.IO.ErrOut, "run %s: %s started\n", run.ID, mode)
	if o.Detach {
		return nil
	}
	if f.IO.IsTerminal && !o.NoTUI {
		return attachTUI(cmd.Context(), f, run, false, after)
	}
	err = watch(cmd.Context(), f, run, false, after)
	var ec *exitcode.Err
	if mode == "rollback" && errors.As(err, &ec) && ec.Code == exitcode.RolledBack {
		return nil // the rollback that was asked for is done
	}
	return err
}

func newCmdResume(f *cmdutil.Factory) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "resume <run-id>",
		Short: "Continue a run after a crash or an abort: completed steps are not repeated",
		Args:  runIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			return restart(cmd, f, args[0], "run", o)
		},
	}
	o.flags(cmd)
	cmd.Flags().BoolVar(&o.TakeOver, "take-over", false, "stop the live runner of this run (a step in flight is re-checked, never repeated blindly) and drive the run yourself; recorded in the journal")
	return cmd
}

// takeOver stops the live runner of a run on this host and records who took the run over. It
// signals only a process proven to be that runner: the one the kernel says listens on the run's
// socket, whose pid the lock names, started at the tick the lock records, with this run's
// directory on its `__runner` command line. The signal goes through a pidfd opened before those
// checks, so a pid reused after them is never hit.
func takeOver(ctx context.Context, run *journal.Run, holder journal.LockInfo, who events.Actor) error {
	host, _ := os.Hostname()
	if holder.Host != host {
		return fmt.Errorf("run %s is driven by %s on another host: take it over there", run.ID, holder)
	}
	refuse := func(why error) error {
		return fmt.Errorf("take-over of run %s refused, nothing was signalled: %w", run.ID, why)
	}
	pidfd, err := unix.PidfdOpen(holder.PID, 0)
	if err != nil {
		return refuse(fmt.Errorf("the lock names pid %d: %w", holder.PID, err))
	}
	defer unix.Close(pidfd)
	peer, err := journal.Ping(ctx, run)
	if err != nil {
		return refuse(fmt.Errorf("its runner cannot be asked who it is: %w", err))
	}
	if peer.PID != holder.PID {
		return refuse(fmt.Errorf("the lock names pid %d but the run's runner is pid %d", holder.PID, peer.PID))
	}
	if err := proc.IsRunnerOf(holder.PID, holder.StartTick, run.Dir); err != nil {
		return refuse(err)
	}
	// the runner journals the note (with the kernel's word on who sent it) before it replies
	if _, err := journal.Send(ctx, run, journal.Request{Kind: journal.AskNote, Via: "cairn resume --take-over", Text: fmt.Sprintf("taken over by %s from %s", who.String(), holder)}); err != nil {
		return err
	}
	if err := unix.PidfdSendSignal(pidfd, unix.SIGTERM, nil, 0); err != nil {
		return fmt.Errorf("stop runner %s: %w", holder, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, alive := journal.Holder(run); !alive {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("runner %s did not stop within 30s; nothing was changed by cairn", holder)
}

func newCmdRollback(f *cmdutil.Factory) *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "rollback <run-id>",
		Short: "Walk back a finished or abandoned run, newest step first, each confirmed",
		Args:  runIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			return restart(cmd, f, args[0], "rollback", o)
		},
	}
	o.flags(cmd)
	return cmd
}

func newCmdAttach(f *cmdutil.Factory) *cobra.Command {
	return newCmdView(f, "attach <run-id>", "Reconnect a view to a running run (and answer its questions)", false)
}

func newCmdFollow(f *cmdutil.Factory) *cobra.Command {
	return newCmdView(f, "follow <run-id>", "Watch a run read-only, live (pairing: a second terminal, or over ssh)", true)
}

// newCmdView is attach (answers questions) and follow (read-only).
func newCmdView(f *cmdutil.Factory, use, short string, readOnly bool) *cobra.Command {
	var noTUI bool
	cmd := &cobra.Command{
		Use:   use,
		Short: short,
		Args:  runIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			run, err := journal.Open(f.StateDir(), args[0])
			if err != nil {
				return err
			}
			if f.IO.IsTerminal && !noTUI {
				return attachTUI(cmd.Context(), f, run, readOnly, 0)
			}
			err = watch(cmd.Context(), f, run, readOnly, 0)
			var ec *exitcode.Err
			if readOnly && errors.As(err, &ec) && ec.Code != exitcode.Detached {
				return nil // a follower reports, it does not fail with the run
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&noTUI, "no-tui", false, "plain lines")
	return cmd
}

func writeMeta(run *journal.Run, m journal.Meta) error {
	b, err := jsonIndent(m)
	if err != nil {
		return err
	}
	return run.WriteFile(journal.MetaFile, b)
}
