package shared

import (
	"bufio"
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
	"github.com/cairn-runbooks/cairn/internal/plainview"
)

// PollEvery is how often a view looks for new journal records.
const PollEvery = 100 * time.Millisecond

// follow renders a run in plain lines until it ends; interactive answers from stdin when a person
// can answer.
func follow(ctx context.Context, f *cmdutil.Factory, run *journal.Run, readOnly bool, after int64) events.RunStatus {
	v := &plainview.View{Out: f.IO.Out, Who: launch.Who(f.Getenv), RunID: run.ID, ReadOnly: readOnly, ReplayUntil: journal.LastSeq(run),
		Answer: func(ctx context.Context, a events.Answer) error {
			rep, err := Tell(ctx, f.Getenv, run, journal.Request{Kind: journal.AskAnswer, Via: "plain", Answer: &a})
			if err != nil {
				return err
			}
			return ReplyErr(rep)
		}}
	if !readOnly && f.IO.CanPrompt() {
		v.In = bufio.NewReader(f.IO.In)
	}
	return v.Render(ctx, journal.FollowAfter(ctx, run, PollEvery, after))
}

// Watch follows a run in plain lines until it ends; ctrl-c leaves the run going.
// after is the journal's last sequence number before this invocation started a runner (0 for a new
// run): an earlier runner's finish does not end the view.
func Watch(ctx context.Context, f *cmdutil.Factory, run *journal.Run, readOnly bool, after int64) error {
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

// View shows an existing run until it ends: the TUI's Run screen on a terminal (unless noTUI),
// plain lines otherwise. attach answers its questions; follow (readOnly) only watches and does
// not fail with the run, only when the view is left.
func View(ctx context.Context, f *cmdutil.Factory, id string, readOnly, noTUI bool) error {
	run, err := journal.Open(f.StateDir(), id)
	if err != nil {
		return err
	}
	if f.IO.IsTerminal && !noTUI {
		return AttachTUI(ctx, f, run, readOnly, 0)
	}
	err = Watch(ctx, f, run, readOnly, 0)
	var ec *exitcode.Err
	if readOnly && errors.As(err, &ec) && ec.Code != exitcode.Detached {
		return nil // a follower reports, it does not fail with the run
	}
	return err
}
