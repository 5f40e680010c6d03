package pgdata

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// Where a killed cut-over stopped, and what its re-run does. The cut-over saves its record before
// it drops anything, then drops each database's subscription (detached from its slot, so the slot
// stays on the source), then this run's slots and publications. A SIGKILL can land:
//
//   - before the record: every subscription is there (maybe disabled) — the re-run enables them,
//     catches up and proves everything again;
//   - after the record, before or between the subscriptions' drops: the databases whose
//     subscription is gone were proven by the record (their rows, at its position, under the
//     quiesce) — the re-run waits for and proves only the databases whose subscription is still
//     there, keeps the record's counts for the others, and finishes every drop. A slot whose
//     subscription is gone never advances again, so it is never waited for;
//   - after every subscription's drop, before or between the slots' drops: nothing is left to
//     prove — the re-run drops the slots and publications left;
//   - after the drops, before the target's write counters were recorded: the re-run reads them.
//
// A subscription gone without this run's record proving its database (dropped by hand, another
// run's copy) blocks: nothing proves the target holds that database's last writes.

// cutState is what of this run's replication the cut-over finds on the servers.
type cutState struct {
	src, tgt dsn
	dbs      []string
	oids     map[string]uint32
	names    map[string]string // database → this run's subscription (and slot) of it
	subs     map[string]bool   // database → its subscription of this run is on the target
	slots    []string          // this run's slots left on the source
}

// left lists what of the replication is still there, as the check names it.
func (s cutState) left() []string {
	var out []string
	for _, db := range s.dbs {
		if s.subs[db] {
			out = append(out, "subscription "+s.sub(db))
		}
	}
	for _, n := range s.slots {
		out = append(out, "slot "+n)
	}
	return out
}

// sub is the name of this run's subscription (and slot) of database db.
func (s cutState) sub(db string) string { return s.names[db] }

// dbState is one database's part of an interrupted cut-over.
type dbState int

const (
	dbLive     dbState = iota // its subscription is there: catch up and prove it
	dbRecorded                // its subscription is gone after this run's record proved it: finish the drop
	dbUnproven                // its subscription is gone and nothing of this run proves it: blocked
)

// split sorts the databases by what the cut-over does with each, given its record.
func (s cutState) split(rec *cutoverRecord, ours bool) map[dbState][]string {
	out := map[dbState][]string{}
	for _, db := range s.dbs {
		_, proven := rec.Counts[db]
		switch {
		case s.subs[db]:
			out[dbLive] = append(out[dbLive], db)
		case ours && proven:
			out[dbRecorded] = append(out[dbRecorded], db)
		default:
			out[dbUnproven] = append(out[dbUnproven], db)
		}
	}
	return out
}

// unprovenBlock is the check's answer when a database's subscription is gone without this run's
// record proving its rows.
func (s cutState) unprovenBlock(dbs []string) steps.Check {
	var subs []string
	for _, db := range dbs {
		subs = append(subs, s.sub(db)+" ("+db+")")
	}
	return steps.BlockedBy(fmt.Sprintf("the subscriptions %s are gone from %s, and this run's cut-over did not prove those databases' rows: the replication was dropped outside this step (or the databases there are another run's copy) — nothing proves the target holds the source's last writes", strings.Join(subs, ", "), s.tgt.Label),
		"roll back to the replicate step (`cairn rollback`) and replicate again; never swap names on an unproven copy")
}

// cutoverState reads what of this run's replication is still there: subscriptions on the target,
// slots on the source — one connection to each (pg_subscription is shared by a server's databases).
func (c *Cutover) cutoverState(ctx context.Context, env *steps.Env) (cutState, error) {
	var s cutState
	var err error
	if s.src, err = c.Source.resolve(ctx, env); err != nil {
		return s, err
	}
	if s.tgt, err = c.Target.resolve(ctx, env); err != nil {
		return s, err
	}
	var sc, tc *pgx.Conn
	var serr, terr error
	_ = parallel(func() error { sc, serr = s.src.connect(ctx, ""); return nil }, func() error { tc, terr = s.tgt.connect(ctx, ""); return nil })
	if tc != nil {
		defer tc.Close(context.WithoutCancel(ctx))
	}
	if sc != nil {
		defer sc.Close(context.WithoutCancel(ctx))
	}
	if serr != nil {
		return s, serr
	}
	if s.dbs, err = databases(ctx, sc); err != nil {
		return s, err
	}
	if s.oids, err = dbOIDs(ctx, sc, s.dbs); err != nil {
		return s, err
	}
	all, err := cairnSlots(ctx, sc)
	if err != nil {
		return s, err
	}
	mine, _ := ofRun(env, all)
	s.slots = sortedKeys(mine)
	if terr != nil {
		return s, terr
	}
	byName := map[string]string{}
	s.names = map[string]string{}
	for _, db := range s.dbs {
		s.names[db] = slotName(env, s.oids[db])
		byName[s.names[db]] = db
	}
	rows, err := tc.Query(ctx, "SELECT subname::text FROM pg_subscription WHERE subname = ANY($1)", sortedKeys(byName))
	if err != nil {
		return s, fmt.Errorf("list the subscriptions on %s: %w", s.tgt.Label, err)
	}
	there, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return s, fmt.Errorf("list the subscriptions on %s: %w", s.tgt.Label, err)
	}
	s.subs = map[string]bool{}
	for _, n := range there {
		s.subs[byName[n]] = true
	}
	return s, nil
}

// only is the pool's part for databases dbs (its connections, not closed by it).
func (p *pool) only(dbs []string) *pool {
	q := &pool{src: p.src, tgt: p.tgt, base: p.base}
	for i, db := range p.dbs {
		if slices.Contains(dbs, db) {
			q.dbs = append(q.dbs, db)
			if p.conns != nil {
				q.conns = append(q.conns, p.conns[i])
			}
		}
	}
	return q
}

// totals counts the tables and rows of a cut-over's counts (the large objects are not a table).
func totals(counts map[string]map[string]int64) (int, int64) {
	tables, rows := 0, int64(0)
	for _, db := range counts {
		for k, n := range db {
			if k != largeObjects {
				tables++
				rows += n
			}
		}
	}
	return tables, rows
}
