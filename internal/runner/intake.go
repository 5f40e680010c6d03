package runner

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
)

// The runner's intake: what people send it over the run's socket (journal.Intake). Who sent a
// request is the kernel's word (SO_PEERCRED), resolved by launch.Person; a request's own claims
// about its sender are never read. Notes are journaled at once, pauses wait for the next step, and
// answers go to the question the runner is waiting on, which decides whether they count.

// delivery is an answer handed to a waiting question, with where its reply goes.
type delivery struct {
	a     events.Answer
	reply chan journal.Reply // buffered: the question always replies exactly once
}

// waiter is the question the runner is waiting on a person for.
type waiter struct {
	qid  string
	ch   chan delivery
	done chan struct{} // closed when the question stops waiting
}

// maxNote bounds a note's text in the journal.
const maxNote = 4096

// handle is the intake's handler: one request from one caller.
func (r *Runner) handle(peer journal.Peer, req journal.Request) journal.Reply {
	if err := r.admit(peer); err != nil {
		return journal.Reply{Status: journal.ReplyRefused, Message: err.Error()}
	}
	sudo := ""
	if peer.UID == 0 {
		sudo = req.SudoUID // honoured for root only: the person who ran sudo
	}
	who := launch.Person(peer.UID, sudo)
	who.Via = viaLabel(req.Via, who.Via)
	switch req.Kind {
	case journal.AskPing:
		return journal.Reply{Status: journal.ReplyDone, Message: "runner pid " + fmt.Sprint(r.pid) + " is live", By: &who}
	case journal.AskNote:
		text := strings.TrimSpace(req.Text)
		if text == "" {
			return journal.Reply{Status: journal.ReplyBad, Message: "an empty note", By: &who}
		}
		if len(text) > maxNote {
			text = text[:maxNote] + "…"
		}
		r.emit(events.Event{Type: events.Note, Actor: &who, Note: text})
		return journal.Reply{Status: journal.ReplyDone, Message: "noted by " + who.String(), By: &who}
	case journal.AskPause:
		r.mu.Lock()
		r.pending = append(r.pending, journal.InboxItem{Kind: journal.AskPause, By: &who})
		r.mu.Unlock()
		return journal.Reply{Status: journal.ReplyDone, Message: "pause requested by " + who.String() + ": the run stops before its next step and asks to continue", By: &who}
	case journal.AskAnswer:
		if req.Answer == nil {
			return journal.Reply{Status: journal.ReplyBad, Message: "an answer request without an answer", By: &who}
		}
		a := *req.Answer
		a.By = &who
		return r.deliver(a)
	}
	return journal.Reply{Status: journal.ReplyBad, Message: fmt.Sprintf("unknown request %q", req.Kind), By: &who}
}

// admit lets in the run's owner, root, and — in a shared state directory — members of its group,
// as the kernel reports the caller's groups. The socket's mode already keeps others out; this
// holds even if that mode or a directory's were loosened.
func (r *Runner) admit(peer journal.Peer) error {
	if peer.UID == 0 || peer.UID == os.Getuid() {
		return nil
	}
	if r.cfg.Run.Shared {
		var st unix.Stat_t
		if err := unix.Stat(filepath.Dir(filepath.Dir(r.cfg.Run.Dir)), &st); err == nil && peer.InGroup(int(st.Gid)) {
			return nil
		}
		return fmt.Errorf("run %s takes requests from its owner and members of its state directory's group only: uid %d is neither", r.cfg.Run.ID, peer.UID)
	}
	return fmt.Errorf("run %s is private to its owner: uid %d cannot send it requests", r.cfg.Run.ID, peer.UID)
}

// viaLabel keeps the caller's label of how it answered when it is a plain short word or two, and
// says when the person was named by SUDO_UID.
func viaLabel(claimed, person string) string {
	v := "socket"
	if claimed != "" && len(claimed) <= 32 && !strings.ContainsFunc(claimed, func(c rune) bool { return c < ' ' || c > '~' }) {
		v = claimed
	}
	if person == "sudo" {
		v += ", through sudo"
	}
	return v
}

// deliver hands an answer to the question it answers, if the runner is waiting on that one.
func (r *Runner) deliver(a events.Answer) journal.Reply {
	r.mu.Lock()
	w := r.waiting
	r.mu.Unlock()
	if w == nil || w.qid != a.QuestionID {
		return journal.Reply{Status: journal.ReplyNotWaiting, Message: fmt.Sprintf("run %s is not waiting for an answer to %s (answered already, or not asked yet)", r.cfg.Run.ID, a.QuestionID), By: a.By}
	}
	d := delivery{a: a, reply: make(chan journal.Reply, 1)}
	select {
	case w.ch <- d:
		return <-d.reply
	case <-w.done:
		return journal.Reply{Status: journal.ReplyNotWaiting, Message: fmt.Sprintf("run %s stopped waiting for an answer to %s", r.cfg.Run.ID, a.QuestionID), By: a.By}
	}
}

// waitFor registers a question as the one the runner waits on and returns its waiter; stop ends it.
func (r *Runner) waitFor(qid string) (*waiter, func()) {
	w := &waiter{qid: qid, ch: make(chan delivery), done: make(chan struct{})}
	r.mu.Lock()
	r.waiting = w
	r.mu.Unlock()
	return w, func() {
		r.mu.Lock()
		if r.waiting == w {
			r.waiting = nil
		}
		r.mu.Unlock()
		close(w.done)
	}
}

// isStarter says whether a person started this run or drives it now: neither may approve it.
func (r *Runner) isStarter(a *events.Actor) bool {
	return a.UID == r.cfg.Meta.StarterUID || a.UID == r.cfg.Actor.UID
}

// awaitPerson waits for a person's answer to q over the socket. For an approval it counts distinct
// people (by uid) other than the starter until q.Approvals have approved; anyone's refusal ends it.
func (r *Runner) awaitPerson(ctx context.Context, q events.Question, w *waiter) (events.Answer, error) {
	approvers := map[int]bool{}
	for {
		var d delivery
		select {
		case <-ctx.Done():
			return events.Answer{}, ctx.Err()
		case d = <-w.ch:
		}
		a := d.a
		reply := func(st journal.ReplyStatus, msg string) { d.reply <- journal.Reply{Status: st, Message: msg, By: a.By} }
		switch q.Kind {
		case events.AskApproval:
			if a.Choice != events.Approve {
				note := "approval refused by " + a.By.String()
				r.emit(events.Event{Type: events.QuestionAnswered, Step: q.Step, Answer: &a, Actor: a.By, Note: note})
				reply(journal.ReplyDone, note+": the run stops before step "+q.Step)
				return a, nil
			}
			if r.isStarter(a.By) {
				note := fmt.Sprintf("approval by %s (uid %d) refused: the engineer who started the run cannot approve it", a.By.User, a.By.UID)
				r.emit(events.Event{Type: events.Note, Step: q.Step, Actor: a.By, Note: note})
				reply(journal.ReplyRefused, fmt.Sprintf("approval refused: %s started run %s and cannot approve it; another engineer runs `cairn approve %s`", a.By.User, r.cfg.Run.ID, r.cfg.Run.ID))
				continue
			}
			if approvers[a.By.UID] {
				reply(journal.ReplyRefused, fmt.Sprintf("%s has approved step %s already: it counts once (%d of %d)", a.By.User, q.Step, len(approvers), q.Approvals))
				continue
			}
			approvers[a.By.UID] = true
			note := fmt.Sprintf("approved by %s (%d of %d)", a.By.String(), len(approvers), q.Approvals)
			r.emit(events.Event{Type: events.Note, Step: q.Step, Actor: a.By, Note: note})
			if len(approvers) >= q.Approvals {
				r.emit(events.Event{Type: events.QuestionAnswered, Step: q.Step, Answer: &a, Actor: a.By})
				reply(journal.ReplyDone, note+": step "+q.Step+" goes ahead")
				return a, nil
			}
			reply(journal.ReplyDone, note)
		case events.AskTyped:
			if a.Value != q.Expect && a.Choice != events.Abort {
				r.emit(events.Event{Type: events.Note, Step: q.Step, Actor: a.By, Note: "typed confirmation did not match: asked again"})
				reply(journal.ReplyRefused, "typed confirmation did not match: asked again")
				continue
			}
			r.emit(events.Event{Type: events.QuestionAnswered, Step: q.Step, Answer: &a, Actor: a.By})
			reply(journal.ReplyDone, "answered by "+a.By.String())
			return a, nil
		default:
			shown := a
			if q.Secret {
				shown.Value = ""
			}
			r.emit(events.Event{Type: events.QuestionAnswered, Step: q.Step, Answer: &shown, Actor: a.By})
			reply(journal.ReplyDone, "answered by "+a.By.String())
			return a, nil
		}
	}
}

// takeInbox returns the pause requests that came in since the last step (notes are journaled as
// they arrive).
func (r *Runner) takeInbox() []journal.InboxItem {
	r.mu.Lock()
	defer r.mu.Unlock()
	items := r.pending
	r.pending = nil
	return items
}
