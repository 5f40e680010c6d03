package shared

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/proc"
	"golang.org/x/sys/unix"
)

// takeOverRun stops the live runner of a run on this host and records who took the run over. It
// signals only a process proven to be that runner: the one the kernel says listens on the run's
// socket, whose pid the lock names, started at the tick the lock records, with this run's
// directory on its `__runner` command line. The signal goes through a pidfd opened before those
// checks, so a pid reused after them is never hit.
func takeOverRun(ctx context.Context, run *journal.Run, holder journal.LockInfo, who events.Actor) error {
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
