package runner

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strconv"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/proc"
)

// A resumed run stops the children an interrupted runner left running — and nothing else. A
// child.started record is only believed when the runner itself wrote it: each is signed with an
// HMAC key that only the run's owner can read (runner.key, 0600, created once by the first
// runner), and the process at the pid must still be that child (start tick, real uid, argv[0],
// leader of its own group). A record someone else put in the journal, pointing at any other
// process, gets nothing signalled.

// KeyFile holds the run's signing key for its child records.
const KeyFile = "runner.key"

// loadKey reads the run's key, creating it on the run's first runner. A key that is not a
// regular 0600 file owned by the run directory's owner is not trusted.
func (r *Runner) loadKey() error {
	d, err := fsutil.OpenDir(r.cfg.Run.Dir)
	if err != nil {
		return err
	}
	defer d.Close()
	f, err := d.Create(KeyFile, 0o600)
	if err == nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			f.Close()
			return err
		}
		if _, err := f.Write([]byte(hex.EncodeToString(key))); err != nil {
			f.Close()
			return err
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return err
		}
		r.key = key
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	dst, err := d.Stat()
	if err != nil {
		return err
	}
	st, err := d.Lstat(KeyFile)
	if err != nil {
		return err
	}
	if st.Mode&0o170000 != 0o100000 || st.Mode&0o077 != 0 || st.Uid != dst.Uid {
		return fmt.Errorf("%s is not a 0600 file owned by the run's owner (uid %d): its child records are not trusted", r.cfg.Run.Path(KeyFile), dst.Uid)
	}
	b, err := d.ReadFile(KeyFile)
	if err != nil {
		return err
	}
	key, err := hex.DecodeString(string(b))
	if err != nil || len(key) != 32 {
		return fmt.Errorf("%s is not a key cairn wrote", r.cfg.Run.Path(KeyFile))
	}
	r.key = key
	return nil
}

// sign is the HMAC of a child record's identifying fields and the run's id.
func (r *Runner) sign(c *events.Child) string {
	m := hmac.New(sha256.New, r.key)
	fmt.Fprintf(m, "%s\x00%d\x00%d\x00%d\x00%s", r.cfg.Run.ID, c.PID, c.StartTick, c.UID, c.Argv0)
	return hex.EncodeToString(m.Sum(nil))
}

// childRecord describes a child just started, as the kernel has it, signed.
func (r *Runner) childRecord(pid int, argv0 string) *events.Child {
	c := &events.Child{PID: pid, Argv0: argv0, UID: -1}
	if id, err := proc.Lookup(pid); err == nil {
		c.StartTick, c.UID = id.StartTick, id.UID
	}
	if r.key != nil {
		c.Sig = r.sign(c)
	}
	return c
}

// killLeftovers stops children an earlier runner started and that are still running.
func (r *Runner) killLeftovers(prior []events.Event) {
	live := map[int]*events.Child{}
	for _, e := range prior {
		switch e.Type {
		case events.ChildStarted:
			if e.Child != nil {
				live[e.Child.PID] = e.Child
			}
		case events.ChildExited:
			if e.Child != nil {
				delete(live, e.Child.PID)
			}
		}
	}
	for _, c := range live {
		if r.key == nil || c.Sig == "" || !hmac.Equal([]byte(c.Sig), []byte(r.sign(c))) {
			r.emit(events.Event{Type: events.Note, Note: fmt.Sprintf("a child record for pid %d (%s) was not written by this run's runner: nothing signalled", c.PID, strconv.Quote(c.Argv0))})
			continue
		}
		killed, why := proc.KillLeftover(proc.Leftover{PID: c.PID, StartTick: c.StartTick, UID: c.UID, Argv0: c.Argv0})
		switch {
		case killed:
			r.emit(events.Event{Type: events.Note, Note: fmt.Sprintf("stopped leftover %s (pid %d) from the interrupted runner", c.Argv0, c.PID)})
		case why != "gone":
			r.emit(events.Event{Type: events.Note, Note: fmt.Sprintf("leftover %s (pid %d) not signalled: %s", c.Argv0, c.PID, why)})
		}
	}
}
