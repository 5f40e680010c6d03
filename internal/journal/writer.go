package journal

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// ErrLocked is returned when another live runner holds the run.
var ErrLocked = errors.New("run is locked by another runner")

// Writer appends to a run's journal and output log. Only the holder of the run's lock writes.
type Writer struct {
	run  *Run
	mu   sync.Mutex
	j    *os.File
	o    *os.File
	lock *os.File
	seq  int64
	now  func() time.Time
	// runbookSum is set on the first record of a new journal (run.started).
	runbookSum string
	// pending are records to journal right after the next one (the note about a torn tail).
	pending []events.Event
}

// LockInfo is written into the lock file: who holds the run.
type LockInfo struct {
	PID       int    `json:"pid"`
	StartTick uint64 `json:"start_tick,omitempty"` // the runner's start time (/proc/<pid>/stat field 22)
	Host      string `json:"host"`
	User      string `json:"user"`
}

// OpenWriter takes the run's lock (failing with ErrLocked if a live runner has it), checks the run
// is its creator's alone and its runbook the one it started with (Check), sets aside a torn last
// journal line — the runner died mid-write — and opens the journal for appending, continuing its
// sequence numbers. The setting aside is journaled (after the next record) so nothing is lost in
// silence. A lock, journal or log that is a link is refused, never followed.
func OpenWriter(r *Run, holder LockInfo, now func() time.Time) (*Writer, error) {
	d, err := r.OpenDir()
	if err != nil {
		return nil, err
	}
	defer d.Close()
	lf, err := d.OpenFile(LockFile, os.O_RDWR|os.O_CREATE, r.FileMode())
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", r.ID, err)
	}
	if err := takeLock(lf); err != nil {
		b, _ := io.ReadAll(lf)
		lf.Close()
		return nil, fmt.Errorf("%w (%s)", ErrLocked, strings.TrimSpace(string(b)))
	}
	w := &Writer{run: r, lock: lf, now: now}
	fail := func(err error) (*Writer, error) {
		lf.Close()
		if w.j != nil {
			w.j.Close()
		}
		if w.o != nil {
			w.o.Close()
		}
		return nil, err
	}
	if err := Check(r, ToDrive); err != nil {
		return fail(err)
	}
	b, _ := json.Marshal(holder)
	_ = lf.Truncate(0)
	_, _ = lf.WriteAt(b, 0)
	text, err := d.ReadFile(RunbookFile)
	if err != nil {
		return fail(err)
	}
	sum := sha256.Sum256(text)
	w.runbookSum = hex.EncodeToString(sum[:])

	w.j, err = d.OpenFile(JournalFile, os.O_RDWR|os.O_APPEND|os.O_CREATE, r.FileMode())
	if err != nil {
		return fail(err)
	}
	torn, aside, err := setAsideTornTail(d, w.j, JournalFile, r.FileMode(), now())
	if err != nil {
		return fail(fmt.Errorf("run %s: %w", r.ID, err))
	}
	if torn > 0 {
		w.pending = append(w.pending, events.Event{Type: events.Note, Note: fmt.Sprintf(
			"the journal's last record was cut short (%d bytes, written when a runner stopped mid-write); it was set aside in %s and is not part of the run's record", torn, aside)})
	}
	w.o, err = d.OpenFile(OutputFile, os.O_RDWR|os.O_APPEND|os.O_CREATE, r.FileMode())
	if err != nil {
		return fail(err)
	}
	if err := truncateTornTail(w.o); err != nil { // output lines are not fsync'd: a cut line is dropped
		return fail(fmt.Errorf("run %s: %s: %w", r.ID, OutputFile, err))
	}
	recs, err := ReadAll(r)
	if err != nil {
		return fail(err)
	}
	// the output log too: a runner that died wrote output lines after its last journal record, and
	// one sequence orders both files (a resumed runner's records come after them)
	out, err := ReadOutput(r)
	if err != nil {
		return fail(err)
	}
	for _, e := range append(recs, out...) {
		if e.Seq > w.seq {
			w.seq = e.Seq
		}
	}
	return w, nil
}

// takeLock takes the run's lock. A live runner holds it for as long as it lives; a reader asking
// who holds it (Holder) takes it shared for an instant, which is waited out (up to a second), so
// `cairn runs` at the moment a runner starts never stops that runner.
func takeLock(lf *os.File) error {
	var err error
	for range 20 {
		if err = syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); !errors.Is(err, syscall.EWOULDBLOCK) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return err
}

// setAsideTornTail cuts f (opened O_RDWR) back to its last complete line. The cut bytes are kept in
// a new file next to it (name.torn-<time>, O_EXCL) before the cut, both fsync'd.
func setAsideTornTail(d *fsutil.Dir, f *os.File, name string, mode os.FileMode, now time.Time) (int, string, error) {
	data, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<62))
	if err != nil {
		return 0, "", err
	}
	if len(data) == 0 || data[len(data)-1] == '\n' {
		return 0, "", nil
	}
	keep := bytes.LastIndexByte(data, '\n') + 1
	aside := fmt.Sprintf("%s.torn-%s", name, now.UTC().Format("20060102T150405.000000000Z"))
	af, err := d.Create(aside, mode)
	if err != nil {
		return 0, "", fmt.Errorf("set aside the torn end of %s: %w", name, err)
	}
	if _, err := af.Write(data[keep:]); err != nil {
		af.Close()
		return 0, "", err
	}
	if err := af.Sync(); err != nil {
		af.Close()
		return 0, "", err
	}
	if err := af.Close(); err != nil {
		return 0, "", err
	}
	if err := f.Truncate(int64(keep)); err != nil {
		return 0, "", fmt.Errorf("cut the torn end of %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		return 0, "", err
	}
	return len(data) - keep, aside, nil
}

func truncateTornTail(f *os.File) error {
	st, err := f.Stat()
	if err != nil || st.Size() == 0 {
		return err
	}
	// read back from the end until a newline
	const chunk = 64 * 1024
	end := st.Size()
	for pos := end; pos > 0; {
		n := int64(chunk)
		if pos < n {
			n = pos
		}
		buf := make([]byte, n)
		if _, err := f.ReadAt(buf, pos-n); err != nil {
			return err
		}
		if pos == end && buf[len(buf)-1] == '\n' {
			return nil
		}
		if i := bytes.LastIndexByte(buf, '\n'); i >= 0 {
			return f.Truncate(pos - n + int64(i) + 1)
		}
		pos -= n
	}
	return f.Truncate(0)
}

// Append writes a record to the journal and fsyncs it. Output lines and progress go to the output
// log instead (not fsync'd), whatever Append is given. The first record of a new journal
// (run.started) carries the runbook's hash.
func (w *Writer) Append(e events.Event) (events.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	e, err := w.append(e)
	if err != nil || e.Type == events.OutputLine || e.Type == events.Progressed {
		return e, err
	}
	for len(w.pending) > 0 {
		p := w.pending[0]
		w.pending = w.pending[1:]
		if _, err := w.append(p); err != nil {
			return e, err
		}
	}
	return e, nil
}

func (w *Writer) append(e events.Event) (events.Event, error) {
	first := w.seq == 0
	w.seq++
	e.Seq = w.seq
	e.V = events.Version
	if e.Time.IsZero() {
		e.Time = w.now()
	}
	if first && e.Type == events.RunStarted && e.Run != nil && e.Run.RunbookSHA256 == "" {
		info := *e.Run
		info.RunbookSHA256 = w.runbookSum
		e.Run = &info
	}
	b, err := json.Marshal(e)
	if err != nil {
		return e, err
	}
	b = append(b, '\n')
	if e.Type == events.OutputLine || e.Type == events.Progressed {
		_, err = w.o.Write(b)
		return e, err
	}
	if _, err := w.j.Write(b); err != nil {
		return e, fmt.Errorf("journal: %w", err)
	}
	if err := w.j.Sync(); err != nil {
		return e, fmt.Errorf("journal fsync: %w", err)
	}
	return e, nil
}

// Close closes the files and releases the lock.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.j.Sync()
	w.o.Sync()
	w.j.Close()
	w.o.Close()
	_ = w.lock.Truncate(0)
	return w.lock.Close()
}

// Holder reads who holds the lock now, and whether that process is alive on this host. It needs
// only read access (any member of a shared state directory's group has it) and follows no link.
// When the lock is free, the LockInfo is the last holder that did not let go of it cleanly (a
// runner that died without a word leaves its record; a clean close empties it).
func Holder(r *Run) (LockInfo, bool) {
	var li LockInfo
	lf, err := r.OpenFile(LockFile, os.O_RDONLY)
	if err != nil {
		return li, false
	}
	defer lf.Close()
	alive := true
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		alive = false
	}
	b, _ := io.ReadAll(lf)
	_ = json.Unmarshal(b, &li)
	return li, alive
}

// PIDString formats a holder for messages.
func (li LockInfo) String() string {
	return "pid " + strconv.Itoa(li.PID) + " on " + li.Host + " (" + li.User + ")"
}
