package pgdata

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// The cut-over's proof inside the window: what the comparison before it (pg-replication-compare)
// saw unchanged since is not counted again.
//
// A table is proven equal without a recount when its state (write counters, relfilenode, pg_class
// xmin) is the same on both sides as at the comparison, and its counts (and sums) were equal then.
// The write counters count every attempted insert, update and delete, and a session hands its
// counts to the statistics when it ends: the quiesce ended the application's sessions on the
// source, and the cut-over ends the apply worker on the target (DISABLE, then the worker is ended
// and its slot found inactive on the source — it has exited, its counts handed over). A TRUNCATE or
// a rewrite gives the table a new file. What could still hide a write: a session on the target
// other than cairn's (it has not ended, its counts may not be handed over yet) — then every table
// is counted; and PostgreSQL before 15, whose statistics travel through a collector that may drop
// them — then too. A write on the source by a session still connected reaches the target through
// the replication, and moves the target's counters.

// proofBasis is why the cut-over may, or may not, trust the comparison's baseline.
type proofBasis struct {
	base *baseline
	// whyNot says why every table is counted ("" when the baseline stands).
	whyNot string
}

// basisFor reads the baseline at the cut-over's Baseline and judges it against the live servers.
func basisFor(ctx context.Context, env *steps.Env, t ref.Template, p *pool, checksums bool) (proofBasis, error) {
	path, err := env.OptionalText(t)
	if errors.Is(err, ref.ErrNoValue) {
		path, err = "", nil
	}
	if err != nil {
		return proofBasis{}, err
	}
	b, found, err := readBaseline(path)
	if err != nil {
		return proofBasis{whyNot: err.Error()}, nil
	}
	if !found {
		return proofBasis{whyNot: "no comparison of this run before the window"}, nil
	}
	if b.RunID != env.RunID {
		return proofBasis{whyNot: fmt.Sprintf("the comparison's record %s is run %s's, not this run's", path, orDefault(b.RunID, "(none)"))}, nil
	}
	if checksums && !b.Checksums {
		return proofBasis{whyNot: "the comparison did not hash the rows, this cut-over does (checksums)"}, nil
	}
	ls, err := p.src.identify(ctx, p.any(source))
	if err != nil {
		return proofBasis{}, err
	}
	lt, err := p.tgt.identify(ctx, p.any(target))
	if err != nil {
		return proofBasis{}, err
	}
	for _, x := range []struct {
		side      string
		rec, live Identity
	}{{"source", b.Source, ls}, {"target", b.Target, lt}} {
		if !sameServer(x.rec, x.live) {
			return proofBasis{whyNot: fmt.Sprintf("the comparison was made on %s, the %s is now %s", x.rec, x.side, x.live)}, nil
		}
	}
	return proofBasis{base: b}, nil
}

// liveDoubts says why the target's or the source's statistics cannot prove a table unchanged now
// ("" when they can): another session on the target, or a server before PostgreSQL 15.
func liveDoubts(ctx context.Context, sc, tc *pgx.Conn) (string, error) {
	for _, x := range []struct {
		side string
		c    *pgx.Conn
	}{{"source", sc}, {"target", tc}} {
		v, _ := strconv.Atoi(strings.SplitN(x.c.PgConn().ParameterStatus("server_version"), ".", 2)[0])
		if v < 15 {
			return fmt.Sprintf("the %s runs PostgreSQL %d, whose statistics collector may drop a count", x.side, v), nil
		}
	}
	others, err := otherSessions(ctx, tc)
	if err != nil {
		return "", err
	}
	if len(others) > 0 {
		return "sessions other than cairn's are connected to the target (" + strings.Join(others, "; ") + "): their writes may not be counted yet", nil
	}
	return "", nil
}

// unchanged lists the tables of database db proven equal since the baseline: the same state on
// both sides as then, and equal counts (and sums) then.
func (p proofBasis) unchanged(db string, now [2]sideState) map[string]bool {
	out := map[string]bool{}
	if p.base == nil || p.whyNot != "" {
		return out
	}
	then, ok := p.base.DBs[db]
	if !ok {
		return out
	}
	s, t := then["source"], then["target"]
	for k, st := range now[0].Tables {
		ts, ok := now[1].Tables[k]
		bs, ok1 := s.Tables[k]
		bt, ok2 := t.Tables[k]
		if !ok || !ok1 || !ok2 || st != bs || ts != bt {
			continue
		}
		n, ok1 := s.Rows[k]
		m, ok2 := t.Rows[k]
		if !ok1 || !ok2 || n != m || p.base.Checksums && s.Sums[k] != t.Sums[k] {
			continue
		}
		out[k] = true
	}
	return out
}

// catalogsSame says whether database db's catalogs are unchanged on both sides since the baseline.
func (p proofBasis) catalogsSame(db string, now [2]sideState) bool {
	if p.base == nil || p.whyNot != "" {
		return false
	}
	then, ok := p.base.DBs[db]
	return ok && then["source"].Catalogs == now[0].Catalogs && then["target"].Catalogs == now[1].Catalogs
}

// The two sides, as pool indexes.
const (
	source = 0
	target = 1
)

// pool is one connection per database and side, opened at once and kept for the whole window: the
// catch-up, the pause, the sequences, the states, the counts, the drop and the write counters. A
// pool without connections (conns nil) connects afresh each time it is asked.
type pool struct {
	src, tgt dsn
	dbs      []string
	conns    [][2]*pgx.Conn // per database
	base     [2]*pgx.Conn   // to each server's default database: what is read of the server as a whole
}

// openPool connects to every database on both sides at once.
func openPool(ctx context.Context, src, tgt dsn, dbs []string) (*pool, error) {
	p := &pool{src: src, tgt: tgt, dbs: dbs, conns: make([][2]*pgx.Conn, len(dbs))}
	var jobs []func() error
	for s, d := range []dsn{src, tgt} {
		jobs = append(jobs, func() (err error) { p.base[s], err = d.connect(ctx, ""); return err })
		for i, db := range dbs {
			jobs = append(jobs, func() (err error) { p.conns[i][s], err = d.connect(ctx, db); return err })
		}
	}
	if err := parallel(jobs...); err != nil {
		p.close(ctx)
		return nil, err
	}
	return p, nil
}

// any is the connection to the side's server as a whole (its default database).
func (p *pool) any(side int) *pgx.Conn { return p.base[side] }

// on gives a connection to database i of the side and what to do when done with it: the pool's, or
// a fresh one closed after.
func (p *pool) on(ctx context.Context, i, side int) (*pgx.Conn, func(), error) {
	if p.conns != nil {
		return p.conns[i][side], func() {}, nil
	}
	c, err := []dsn{p.src, p.tgt}[side].connect(ctx, p.dbs[i])
	if err != nil {
		return nil, nil, err
	}
	return c, func() { c.Close(context.WithoutCancel(ctx)) }, nil
}

func (p *pool) close(ctx context.Context) {
	for _, cs := range append(p.conns, p.base) {
		for _, c := range cs {
			if c != nil {
				c.Close(context.WithoutCancel(ctx))
			}
		}
	}
}

// prove copies the sequences and the large objects and reads both sides' state at once, then counts
// what changed since the baseline (everything without one) and compares the schemas whose catalogs
// moved. It returns every table's count on the source (the baseline's for a table not recounted),
// the tables, the rows and the sequences set.
func (c *Cutover) prove(ctx context.Context, env *steps.Env, p *pool, checksums bool) (map[string]map[string]int64, int, int64, int, error) {
	src, tgt, dbs, conns := p.src, p.tgt, p.dbs, p.conns
	var basis proofBasis
	states := make([][2]sideState, len(dbs))
	set := make([]int, len(dbs))
	// whether the baseline stands (on the servers' own connections), and every database at once:
	// inside the window
	jobs := []func() error{func() (err error) {
		if basis, err = basisFor(ctx, env, c.Baseline, p, checksums); err != nil || basis.whyNot != "" {
			return err
		}
		basis.whyNot, err = liveDoubts(ctx, p.any(source), p.any(target))
		return err
	}}
	for i, db := range dbs {
		jobs = append(jobs, func() error {
			var los int64
			err := parallel(func() (err error) {
				if states[i][source], err = readState(ctx, conns[i][source]); err != nil {
					return fmt.Errorf("%s database %s: %w", src.Label, db, err)
				}
				los, _, err = countLargeObjects(ctx, conns[i][source], false)
				return err
			}, func() (err error) {
				if states[i][target], err = readState(ctx, conns[i][target]); err != nil {
					return fmt.Errorf("%s database %s: %w", tgt.Label, db, err)
				}
				return nil
			})
			if err != nil {
				return err
			}
			// the large objects' copy (pg_dump, pg_restore) beside the sequences
			return parallel(func() (err error) {
				set[i], err = syncSequences(ctx, env, conns[i][source], conns[i][target], db)
				return err
			},
				func() error {
					if los == 0 {
						return nil
					}
					return syncLargeObjects(ctx, env, src, tgt, db, los)
				})
		})
	}
	if err := parallel(jobs...); err != nil {
		return nil, 0, 0, 0, err
	}
	seqs := 0
	for _, n := range set {
		seqs += n
	}

	type counted struct {
		rows map[string]int64
		sums map[string]string
	}
	got := make([][2]counted, len(dbs))
	same := make([]map[string]bool, len(dbs))
	var moved []string
	for i, db := range dbs {
		same[i] = basis.unchanged(db, states[i])
		if !basis.catalogsSame(db, states[i]) {
			moved = append(moved, db)
		}
	}
	// the schemas beside the counts: a difference in both is reported as the schemas' (a column
	// added on one side changes every row's checksum too)
	var schemaErr error
	jobs = []func() error{func() error {
		if len(moved) > 0 {
			schemaErr = compareSchemas(ctx, env, src, tgt, moved)
		}
		return nil
	}}
	for i, db := range dbs {
		for s, d := range []dsn{src, tgt} {
			jobs = append(jobs, func() (err error) {
				got[i][s].rows, got[i][s].sums, err = countOn(ctx, conns[i][s], d, db, checksums, func(k string) bool { return !same[i][k] })
				return err
			})
		}
	}
	if err := parallel(jobs...); err != nil {
		return nil, 0, 0, 0, err
	}
	counts := map[string]map[string]int64{}
	var diffs []string
	tables, recounted, total, again := 0, 0, int64(0), int64(0)
	for i, db := range dbs {
		diffs = append(diffs, compare(Database{Name: db, Rows: got[i][0].rows, Checksums: got[i][0].sums}, got[i][1].rows, got[i][1].sums)...)
		counts[db] = got[i][0].rows
		for k, n := range got[i][0].rows {
			if k != largeObjects {
				recounted++
				again += n
			}
		}
		for k := range same[i] {
			counts[db][k] = basis.base.DBs[db]["source"].Rows[k]
		}
		for k, n := range counts[db] {
			if k != largeObjects {
				tables++
				total += n
			}
		}
	}
	// what the counts (and sums) say: equal, or how many differences (the error lists them)
	verdict := equalWhat(checksums) + " on both sides"
	if len(diffs) > 0 {
		verdict = fmt.Sprintf("%d differences", len(diffs))
	}
	if basis.whyNot != "" {
		env.Info(fmt.Sprintf("rows: every table counted on both sides, %d tables (%s rows): %s — %s", tables, digits(total), verdict, basis.whyNot))
	} else {
		env.Info(fmt.Sprintf("rows: %d of %d tables written since the comparison at %s, recounted on both sides (%s rows); %d unchanged since, compared then — %s",
			recounted, tables, basis.base.At.Format(time.TimeOnly)+"Z", digits(again), tables-recounted, verdict))
	}
	switch {
	case len(moved) == 0:
		env.Info(fmt.Sprintf("schemas: no DDL on either side since the comparison at %s (catalog fingerprints of %s)", basis.base.At.Format(time.TimeOnly)+"Z", strings.Join(dbs, ", ")))
	case basis.whyNot == "":
		env.Info(fmt.Sprintf("schemas: the catalogs of %s moved since the comparison: dumped and compared in full (%d of %d databases)", strings.Join(moved, ", "), len(moved), len(dbs)))
	}
	if schemaErr != nil {
		return nil, 0, 0, 0, schemaErr
	}
	if len(diffs) > 0 {
		return nil, 0, 0, 0, steps.Failed("find out why (a write after the quiesce by a role it does not block, a write on the target, a table the subscription does not carry), then retry", "the target does not hold what the quiesced source holds (%d differences); nothing was dropped, the replication goes on:\n%s", len(diffs), strings.Join(diffs, "\n"))
	}
	return counts, tables, total, seqs, nil
}

// digits writes n with its thousands apart: 1 204 301.
func digits(n int64) string {
	s := strconv.FormatInt(n, 10)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// subscriptions sets this run's subscriptions enabled or not, in every database (those already so
// are left), and says which it changed.
func subscriptions(ctx context.Context, env *steps.Env, p *pool, oids map[string]uint32, enabled bool) ([]string, error) {
	verb := map[bool]string{true: "ENABLE", false: "DISABLE"}[enabled]
	var changed []string
	for i, db := range p.dbs {
		name := slotName(env, oids[db])
		err := func() error {
			tc, done, err := p.on(ctx, i, target)
			if err != nil {
				return err
			}
			defer done()
			s, ok, err := subscriptionOf(ctx, tc, name)
			if err != nil || !ok || s.Enabled == enabled {
				return err
			}
			if _, err := tc.Exec(ctx, "ALTER SUBSCRIPTION "+ident(name)+" "+verb); err != nil {
				return fmt.Errorf("%s: ALTER SUBSCRIPTION %s %s: %w", db, name, verb, err)
			}
			changed = append(changed, name)
			return nil
		}()
		if err != nil && !isAbsent(err) {
			return changed, err
		}
	}
	return changed, nil
}

// pauseApply disables this run's subscriptions and waits until their workers have exited — the
// worker hands its table statistics over as it exits, and its slot on the source goes inactive
// only after that. A worker still there after the DISABLE is ended (it would notice the DISABLE
// only at its next cycle, up to a second later).
func pauseApply(ctx context.Context, env *steps.Env, p *pool, oids map[string]uint32) error {
	if _, err := subscriptions(ctx, env, p, oids, false); err != nil {
		return err
	}
	var names []string
	for _, db := range p.dbs {
		names = append(names, slotName(env, oids[db]))
	}
	src, tgt, sc, tc := p.src, p.tgt, p.any(source), p.any(target)
	t0 := time.Now()
	said := t0
	for {
		rows, err := tc.Query(ctx, "SELECT pid FROM pg_stat_subscription WHERE subname = ANY($1) AND pid IS NOT NULL", names)
		if err != nil {
			return fmt.Errorf("read the subscriptions' workers on %s: %w", tgt.Label, err)
		}
		pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil {
			return fmt.Errorf("read the subscriptions' workers on %s: %w", tgt.Label, err)
		}
		var active int
		if err := sc.QueryRow(ctx, "SELECT count(*) FROM pg_replication_slots WHERE slot_name = ANY($1) AND active", names).Scan(&active); err != nil {
			return fmt.Errorf("read the slots on %s: %w", src.Label, err)
		}
		if len(pids) == 0 && active == 0 {
			env.Info(fmt.Sprintf("replication paused: %d subscriptions disabled, their workers gone (%s)", len(names), since(t0)))
			return nil
		}
		for _, p := range pids {
			// the subscription's owner (cairn's master) may end its own worker; when it may not,
			// the worker leaves at its next cycle anyway
			if _, err := tc.Exec(ctx, "SELECT pg_terminate_backend($1)", p); err != nil && !hasSQLState(err, "42501") {
				return fmt.Errorf("end the apply worker %d on %s: %w", p, tgt.Label, err)
			}
		}
		if time.Since(said) >= 10*time.Second {
			said = time.Now()
			env.Info(fmt.Sprintf("still waiting for %d apply workers to exit and %d slots to go inactive [%s elapsed]", len(pids), active, since(t0)))
		}
		if err := sleepCtx(ctx, 20); err != nil {
			return err
		}
	}
}

// equalWhat is what a comparison that found no difference can claim: the row counts, and the
// checksums only when they were compared.
func equalWhat(checksums bool) string {
	if checksums {
		return "row counts and checksums equal"
	}
	return "row counts equal"
}
