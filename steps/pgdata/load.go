package pgdata

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-runbooks/cairn/steps"
)

// piece is one part of a database's rows to load into the target: a whole table, emptied and
// loaded frozen in one transaction, or a ctid range of one (streamed, PostgreSQL 16+ targets).
type piece struct {
	t      tableRef
	where  string // a ctid range of the source table; "" for the whole table
	pages  int64
	file   string // the dump's data file for the table (loading from a dump)
	format string // COPY format of the data: "binary" or "text"
}

// feeder loads each piece a worker takes into the target: from the source under the exported
// snapshot (a stream), or from the dump's data files.
type feeder interface {
	// load copies piece p into the target with the COPY … FROM STDIN statement in, and says how
	// many rows the target took.
	load(ctx context.Context, tc *pgconn.PgConn, p piece, in string) (int64, error)
	close()
}

// loader loads a database's pieces into the target with Jobs workers and builds each table's
// indexes and key constraints as soon as its last piece is in (as pgcopydb does), so index builds
// overlap the copy of the other tables instead of all waiting for the last row.
type loader struct {
	env     *steps.Env
	tgt     dsn
	db      string
	jobs    int
	feeder  func(ctx context.Context) (feeder, error) // one per worker
	indexes map[string][]Index                        // table key → statements to run once loaded
}

// run loads every piece and returns the rows loaded per table and the archive keys of the indexes
// it built (an index whose table was not among the pieces is not built: it stays pg_restore's).
func (l *loader) run(ctx context.Context, pieces []piece) (map[string]int64, map[string]bool, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sort.SliceStable(pieces, func(i, j int) bool { return pieces[i].pages > pieces[j].pages })
	left := map[string]int{} // pieces still to load, per table
	for _, p := range pieces {
		left[p.t.key()]++
	}
	rows := map[string]int64{}
	built := map[string]bool{}
	queued, active := len(pieces), 0 // pieces not yet taken; workers loading or building
	ch := make(chan piece)
	var (
		mu       sync.Mutex
		firstErr error
		done     int
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			cancel()
		}
		mu.Unlock()
	}
	for w := 0; w < min(l.jobs, len(pieces)); w++ {
		wg.Go(func() {
			f, err := l.feeder(ctx)
			if err != nil {
				fail(err)
				return
			}
			defer f.close()
			tc, err := l.tgt.connect(ctx, l.db)
			if err != nil {
				fail(err)
				return
			}
			defer tc.Close(context.WithoutCancel(ctx))
			if _, err := tc.Exec(ctx, "SET synchronous_commit = off"); err != nil {
				fail(err)
				return
			}
			serial := false // whether this session is set to build indexes without parallel workers
			for p := range ch {
				mu.Lock()
				queued--
				active++
				mu.Unlock()
				n, err := loadPiece(ctx, tc, f, p)
				if err != nil {
					fail(fmt.Errorf("load %s: %w", p.t.key(), err))
					return
				}
				mu.Lock()
				rows[p.t.key()] += n
				left[p.t.key()]--
				last := left[p.t.key()] == 0
				done++
				l.env.Out.Progress(float64(done), float64(len(pieces)), "pieces")
				mu.Unlock()
				if last {
					for _, ix := range l.indexes[p.t.key()] {
						mu.Lock()
						alone := active == 1 && queued == 0
						mu.Unlock()
						if err := parallelBuilds(ctx, tc, &serial, !alone); err != nil {
							fail(err)
							return
						}
						if _, err := tc.Exec(ctx, ix.SQL); err != nil {
							fail(fmt.Errorf("%s (%s): %w", ix.Entry, ix.SQL, err))
							return
						}
						mu.Lock()
						built[ix.key()] = true
						mu.Unlock()
					}
				}
				mu.Lock()
				active--
				mu.Unlock()
			}
		})
	}
	for _, p := range pieces {
		select {
		case ch <- p:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
	}
	close(ch)
	wg.Wait()
	if firstErr != nil {
		return nil, nil, firstErr
	}
	return rows, built, ctx.Err()
}

// parallelBuilds turns a session's parallel index builds off while other workers keep the cores
// busy, and back to the server's setting for the last table standing. A parallel build's extra
// processes only add CPU when every core already has a worker: on 16 tables loaded by 2 workers on
// 2 cores (bench/migrate.sh, many) the rows and 48 indexes took 10.3–10.9 s serial against
// 13.0–13.7 s parallel, with 5.5 s less CPU; pgbench_accounts' key, built while the other worker
// is idle, takes 3.4 s with a parallel worker against 5.4 s without.
func parallelBuilds(ctx context.Context, tc *pgx.Conn, serial *bool, want bool) error {
	if *serial == want {
		return nil
	}
	q := "RESET max_parallel_maintenance_workers"
	if want {
		q = "SET max_parallel_maintenance_workers = 0"
	}
	if _, err := tc.Exec(ctx, q); err != nil {
		return err
	}
	*serial = want
	return nil
}

// loadPiece copies one piece into the target. A whole table is emptied in the same transaction
// as its COPY, so its rows are loaded frozen: the index builds and the verification that read
// them next set no hint bits and dirty no page.
func loadPiece(ctx context.Context, tc *pgx.Conn, f feeder, p piece) (int64, error) {
	in := "COPY " + p.t.quoted() + " (" + joinCols(p.t.Cols) + ") FROM STDIN (FORMAT " + p.format
	if p.where == "" {
		if _, err := tc.Exec(ctx, "BEGIN"); err != nil {
			return 0, err
		}
		// on an error the worker stops and closes tc, which ends the transaction
		if _, err := tc.Exec(ctx, "TRUNCATE ONLY "+p.t.quoted()); err != nil {
			return 0, err
		}
		in += ", FREEZE"
	}
	n, err := f.load(ctx, tc.PgConn(), p, in+")")
	if err != nil {
		return 0, err
	}
	if p.where == "" {
		if _, err := tc.Exec(ctx, "COMMIT"); err != nil {
			return 0, err
		}
	}
	return n, nil
}
