package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Config says where the writer writes and how fast.
type Config struct {
	// ConnString reaches the database through the endpoint under test, as the application role
	// (for the twin: Endpoint(…) with app_rw on the demo's app database).
	ConnString string
	// Every is the pause after each round (one insert and one update); default 5ms.
	Every time.Duration
	// Retry is the pause after a failed write before the next attempt; default 20ms. It bounds how
	// finely the end of an outage is seen.
	Retry time.Duration
	// OpTimeout: a connection or a statement that takes longer counts as failed; default 5s.
	OpTimeout time.Duration
}

func (c Config) withDefaults() Config {
	if c.Every <= 0 {
		c.Every = 5 * time.Millisecond
	}
	if c.Retry <= 0 {
		c.Retry = 20 * time.Millisecond
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 5 * time.Second
	}
	return c
}

// Outage is one stretch in which the application could not write: from the moment the first write
// failed (its error came back) to the moment the first write after it was committed. End is zero
// while it lasts (or when the run stopped inside it).
type Outage struct {
	Start, End time.Time
	// Failures is the number of failed attempts in it; FirstError and LastError their errors.
	Failures              int
	FirstError, LastError string
}

// Length is End − Start (0 while the outage is open).
func (o Outage) Length() time.Duration {
	if o.End.IsZero() {
		return 0
	}
	return o.End.Sub(o.Start)
}

// Commit is one order the writer saw committed: its id, the last status committed for it, and
// After, the number of outages that had ended when it was inserted (0: before the first outage).
type Commit struct {
	ID     int64
	Status Status
	After  int
}

// Record is what a writer saw: every committed order, every outage, and what did not add up while
// it ran (an update that found no row, an id handed out twice).
type Record struct {
	Commits []Commit
	Outages []Outage
	Updates int
	// Uncertain counts inserts sent without an answer (the connection ended, or the answer came too
	// late): each may or may not have been committed, so the table may hold up to this many rows
	// more than Commits says. An insert the server answered with an error is not uncertain.
	Uncertain int
	Anomalies []string
}

// Downtime is the longest outage (0 when there was none, or it never ended).
func (r *Record) Downtime() time.Duration {
	var d time.Duration
	for _, o := range r.Outages {
		d = max(d, o.Length())
	}
	return d
}

// LastOutage is the last outage (zero when there was none): after a rebuild, the cut-over's —
// earlier ones (a reboot during the preparation, say) are not the window.
func (r *Record) LastOutage() Outage {
	if len(r.Outages) == 0 {
		return Outage{}
	}
	return r.Outages[len(r.Outages)-1]
}

// MaxID is the highest id the writer saw committed.
func (r *Record) MaxID() int64 {
	var m int64
	for _, c := range r.Commits {
		m = max(m, c.ID)
	}
	return m
}

// Stats is a running writer's progress, for callers that wait on it.
type Stats struct {
	Commits int
	Updates int
	// Failing: the last attempt failed (an outage is open).
	Failing bool
	// Outages counts the outages begun so far.
	Outages int
}

// Writer writes until its context ends. Start it with Run.
type Writer struct {
	cfg Config

	mu       sync.Mutex
	rec      Record
	index    map[int64]int // id → position in rec.Commits
	pending  []int64       // ids not yet shipped, oldest first
	customer int64
}

// New returns a writer for cfg.
func New(cfg Config) *Writer {
	return &Writer{cfg: cfg.withDefaults(), index: map[int64]int{}}
}

// Stats reads the writer's progress; safe while Run runs.
func (w *Writer) Stats() Stats {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.rec.Outages)
	return Stats{Commits: len(w.rec.Commits), Updates: w.rec.Updates, Outages: n, Failing: n > 0 && w.rec.Outages[n-1].End.IsZero()}
}

// Record is a copy of what the writer saw so far; after Run returns, all of it.
func (w *Writer) Record() *Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.rec
	r.Commits = append([]Commit(nil), r.Commits...)
	r.Outages = append([]Outage(nil), r.Outages...)
	r.Anomalies = append([]string(nil), r.Anomalies...)
	return &r
}

// Run writes until ctx ends, then returns the record. Failed writes are not errors: they are the
// outages it measures.
func (w *Writer) Run(ctx context.Context) *Record {
	var conn *pgx.Conn
	defer func() {
		if conn != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
	}()
	for ctx.Err() == nil {
		if conn == nil {
			c, err := w.connect(ctx)
			if err != nil {
				w.failed(ctx, err)
				continue
			}
			conn = c
		}
		if err := w.round(ctx, conn); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			conn = nil
			w.failed(ctx, err)
			continue
		}
		sleep(ctx, w.cfg.Every)
	}
	return w.Record()
}

func (w *Writer) connect(ctx context.Context) (*pgx.Conn, error) {
	cctx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	conn, err := pgx.Connect(cctx, w.cfg.ConnString)
	if err != nil {
		return nil, err
	}
	if w.customer == 0 {
		if err := conn.QueryRow(cctx, customerSQL).Scan(&w.customer); err != nil {
			_ = conn.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("read a customer: %w", err)
		}
	}
	return conn, nil
}

// round inserts one order, then moves the oldest unshipped one a status forward.
func (w *Writer) round(ctx context.Context, conn *pgx.Conn) error {
	octx, cancel := context.WithTimeout(ctx, w.cfg.OpTimeout)
	defer cancel()
	var id int64
	if err := conn.QueryRow(octx, insertSQL, w.customer).Scan(&id); err != nil {
		var pgErr *pgconn.PgError
		if !pgconn.SafeToRetry(err) && !errors.As(err, &pgErr) {
			w.mu.Lock()
			w.rec.Uncertain++
			w.mu.Unlock()
		}
		return err
	}
	w.committed(id)
	next, to, ok := w.nextUpdate()
	if !ok {
		return nil
	}
	tag, err := conn.Exec(octx, updateSQL, next, to.String())
	if err != nil {
		return err
	}
	w.updated(next, to, tag.RowsAffected())
	return nil
}

// nextUpdate is the oldest unshipped order and the status it moves to.
func (w *Writer) nextUpdate() (int64, Status, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.pending) == 0 {
		return 0, 0, false
	}
	id := w.pending[0]
	return id, w.rec.Commits[w.index[id]].Status + 1, true
}

// committed records an insert the server acknowledged; it ends an open outage.
func (w *Writer) committed(id int64) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.endOutage(now)
	if i, dup := w.index[id]; dup {
		w.rec.Anomalies = append(w.rec.Anomalies, fmt.Sprintf("order %d was handed out twice (first committed with status %s): the sequence went back", id, w.rec.Commits[i].Status))
		return
	}
	w.index[id] = len(w.rec.Commits)
	w.rec.Commits = append(w.rec.Commits, Commit{ID: id, Status: StatusNew, After: w.ended()})
	w.pending = append(w.pending, id)
}

// updated records an acknowledged update of id to st that changed rows rows.
func (w *Writer) updated(id int64, st Status, rows int64) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.endOutage(now)
	w.pending = w.pending[1:]
	if rows != 1 {
		w.rec.Anomalies = append(w.rec.Anomalies, fmt.Sprintf("order %d, committed earlier, was not found by its update to %s", id, st))
		return
	}
	w.rec.Updates++
	c := &w.rec.Commits[w.index[id]]
	c.Status = st
	if st < StatusShipped {
		w.pending = append(w.pending, id)
	}
}

// failed records a failed attempt (opening an outage if none is open) and waits Retry — unless the
// failure is the run ending.
func (w *Writer) failed(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return // the run ends: whatever failed, failed because of that
	}
	now := time.Now()
	w.mu.Lock()
	n := len(w.rec.Outages)
	if n == 0 || !w.rec.Outages[n-1].End.IsZero() {
		w.rec.Outages = append(w.rec.Outages, Outage{Start: now, FirstError: err.Error()})
		n++
	}
	w.rec.Outages[n-1].Failures++
	w.rec.Outages[n-1].LastError = err.Error()
	w.mu.Unlock()
	sleep(ctx, w.cfg.Retry)
}

func (w *Writer) endOutage(now time.Time) {
	if n := len(w.rec.Outages); n > 0 && w.rec.Outages[n-1].End.IsZero() {
		w.rec.Outages[n-1].End = now
	}
}

// ended counts the outages that have ended. Callers hold mu.
func (w *Writer) ended() int {
	n := 0
	for _, o := range w.rec.Outages {
		if !o.End.IsZero() {
			n++
		}
	}
	return n
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
