package shared

import (
	"context"
	"errors"

	"github.com/cairn-runbooks/cairn/internal/journal"
)

// Tell sends a request to a run's live runner. Who sends it is for the runner to find out from the
// kernel; SUDO_UID (read with getenv) goes along and counts only if the kernel says this process is root.
func Tell(ctx context.Context, getenv func(string) string, run *journal.Run, req journal.Request) (journal.Reply, error) {
	req.SudoUID = getenv("SUDO_UID")
	return journal.Send(ctx, run, req)
}

// ReplyErr turns a reply the runner did not act on into an error.
func ReplyErr(rep journal.Reply) error {
	if rep.Status == journal.ReplyDone {
		return nil
	}
	return errors.New(rep.Message)
}
