package journal

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
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
}

// LockInfo is written into the lock file: who holds the run.
type LockInfo struct {
	PID  int    `json:"pid"`
	Host string `json:"host"`
	User string `json:"user"`
}

// OpenWriter takes the run's lock (failing with ErrLocked if a live runner has it) and opens the
// journal for appending, continuing its sequence numbers.
func OpenWriter(r *Run, holder LockInfo, now func() time.Time) (*Writer, error) {
	lf, err := os.OpenFile(r.Path(LockFile), os.O_RDWR|os.O_CREATE, r.FileMode())
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", r.ID, err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		b, _ := os.ReadFile(r.Path(LockFile))
		lf.Close()
		return nil, fmt.Errorf("%w (%s)", ErrLocked, strings.TrimSpace(string(b)))
	}
	b, _ := json.Marshal(holder)
	_ = lf.Truncate(0)
	_, _ = lf.WriteAt(b, 0)
	w := &Writer{run: r, lock: lf, now: now}
	recs, err := ReadAll(r)
	if err != nil {
		lf.Close()
		return nil, err
	}
	for _, e := range recs {
		if e.Seq > w.seq {
			w.seq = e.Seq
		}
	}
	w.j, err = os.OpenFile(r.Path(JournalFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, r.FileMode())
	if err != nil {
		lf.Close()
		return nil, err
	}
	w.o, err = os.OpenFile(r.Path(OutputFile), os.O_WRONLY|os.O_APPEND|os.O_CREATE, r.FileMode())
	if err != nil {
		lf.Close()
		w.j.Close()
		return nil, err
	}
	return w, nil
}

// Append writes a record to the journal and fsyncs it. Output lines and progress go to the output
// log instead (not fsync'd), whatever Append is given.
func (w *Writer) Append(e events.Event) (events.Event, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.seq++
	e.Seq = w.seq
	e.V = events.Version
	if e.Time.IsZero() {
		e.Time = w.now()
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

// Holder reads who holds the lock now, and whether that process is alive on this host.
func Holder(r *Run) (LockInfo, bool) {
	var li LockInfo
	lf, err := os.OpenFile(r.Path(LockFile), os.O_RDWR, 0)
	if err != nil {
		return li, false
	}
	defer lf.Close()
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err == nil {
		_ = syscall.Flock(int(lf.Fd()), syscall.LOCK_UN)
		return li, false
	}
	b, _ := os.ReadFile(r.Path(LockFile))
	_ = json.Unmarshal(b, &li)
	return li, true
}

// PIDString formats a holder for messages.
func (li LockInfo) String() string {
	return "pid " + strconv.Itoa(li.PID) + " on " + li.Host + " (" + li.User + ")"
}
