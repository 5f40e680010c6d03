package pgdata

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// The replicate strategy's names. Everything the logical-replication kinds make carries the run's
// id, so another run's publication, slot or subscription is never taken for this run's, and an
// abandoned run's slot (which keeps WAL on the source until its disk fills) is found by name:
//
//	publication  cairn_<run>            in every replicated database of the source
//	slot         cairn_<run>_<db oid>   on the source (slot names are per server, hence the OID)
//	subscription cairn_<run>_<db oid>   in the same database of the target, using that slot

var nonIdent = regexp.MustCompile(`[^a-z0-9]+`)

// runTag is the run's id as a piece of an identifier ("norun" outside a run: a test, a plan).
func runTag(env *steps.Env) string {
	t := strings.Trim(nonIdent.ReplaceAllString(strings.ToLower(env.RunID), "_"), "_")
	if t == "" {
		return "norun"
	}
	return t[:min(len(t), 40)]
}

func publicationName(env *steps.Env) string { return "cairn_" + runTag(env) }

// shownName is publicationName as a plan shows it: outside a run, "cairn_<run id>".
func shownName(env *steps.Env) string {
	if env.RunID == "" {
		return "cairn_<run id>"
	}
	return publicationName(env)
}

func slotName(env *steps.Env, dbOID uint32) string {
	return fmt.Sprintf("cairn_%s_%d", runTag(env), dbOID)
}

// slot is one logical replication slot on the source, as pg_replication_slots shows it.
type slot struct {
	Name, Database, WALStatus string
	Active                    bool
	Confirmed                 string // confirmed_flush_lsn ("" before the first confirmation)
	Retained                  int64  // bytes of WAL the slot keeps (current LSN − restart_lsn)
	Lag                       int64  // bytes not yet confirmed by the subscriber
}

// cairnSlots lists the logical slots on the source whose names are cairn's (any run's).
func cairnSlots(ctx context.Context, c *pgx.Conn) ([]slot, error) {
	rows, err := c.Query(ctx, `SELECT slot_name::text, coalesce(database::text, ''), coalesce(wal_status, ''), active,
			coalesce(confirmed_flush_lsn::text, ''),
			coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn), 0)::bigint,
			coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::bigint
		FROM pg_replication_slots WHERE slot_type = 'logical' AND slot_name LIKE 'cairn\_%' ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list replication slots: %w", err)
	}
	defer rows.Close()
	var out []slot
	for rows.Next() {
		var s slot
		if err := rows.Scan(&s.Name, &s.Database, &s.WALStatus, &s.Active, &s.Confirmed, &s.Retained, &s.Lag); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ofRun splits slots into this run's (by name) and others'.
func ofRun(env *steps.Env, all []slot) (mine map[string]slot, others []slot) {
	mine = map[string]slot{}
	prefix := "cairn_" + runTag(env) + "_"
	for _, s := range all {
		if strings.HasPrefix(s.Name, prefix) && !strings.Contains(strings.TrimPrefix(s.Name, prefix), "_") {
			mine[s.Name] = s
			continue
		}
		others = append(others, s)
	}
	return mine, others
}

// othersBlock is the check's answer when the source holds another run's cairn slots: an abandoned
// run's slot keeps WAL until the source's disk fills, and two replications of one source make no
// sense — it is named, with how to remove it.
func othersBlock(src dsn, others []slot) steps.Check {
	var names, drops []string
	for _, s := range others {
		names = append(names, fmt.Sprintf("%s (database %s, active %v, keeps %s of WAL)", s.Name, s.Database, s.Active, bytesText(s.Retained)))
		drops = append(drops, "SELECT pg_drop_replication_slot("+literal(s.Name)+");")
	}
	return steps.BlockedBy(fmt.Sprintf("%s holds replication slots of another cairn run: %s — an abandoned slot keeps WAL until the disk fills, and this run will not replicate beside it", src.Label, strings.Join(names, "; ")),
		"roll that run back (`cairn rollback <its run id>`: the replicate step's rollback drops its subscriptions and slots), or, when that run is gone, drop the slot on the source: "+strings.Join(drops, " "))
}

// subscription is one of cairn's subscriptions on the target, as pg_subscription shows it (the
// columns a non-superuser may read: not the connection string).
type subscription struct {
	Name, Slot string
	Enabled    bool
}

// subscriptionOf reads the subscription name in the database c is connected to (ok false when absent).
func subscriptionOf(ctx context.Context, c *pgx.Conn, name string) (subscription, bool, error) {
	s := subscription{Name: name}
	err := c.QueryRow(ctx, `SELECT coalesce(subslotname::text, ''), subenabled FROM pg_subscription
		WHERE subname = $1 AND subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())`, name).Scan(&s.Slot, &s.Enabled)
	if errors.Is(err, pgx.ErrNoRows) {
		return s, false, nil
	}
	if err != nil {
		return s, false, fmt.Errorf("read subscription %s: %w", name, err)
	}
	return s, true, nil
}

// subscriberConnInfo is the connection string the target's subscription uses to reach the source's
// database db. It is a libpq string the *target server* reads, so it cannot point at a file of
// cairn's host: against an RDS instance it asks for TLS (sslmode=require) — the subscriber runs
// inside the target instance, which has no copy of the CA bundle cairn verifies with, and the
// connection stays between two instances of one account. The password is the master's; it lives in
// the target's pg_subscription (readable by superusers only) until the cut-over drops the
// subscription.
func subscriberConnInfo(src dsn, db string) string {
	var kv []string
	if src.conn != "" && src.Host == "" {
		kv = append(kv, src.conn)
	}
	if src.Host != "" {
		kv = append(kv, "host="+quoteConnValue(src.Host), fmt.Sprintf("port=%d", src.Port))
	}
	if src.CA != "" {
		kv = append(kv, "sslmode=require")
	}
	if src.User != "" {
		kv = append(kv, "user="+quoteConnValue(src.User))
	}
	if src.Password != "" {
		kv = append(kv, "password="+quoteConnValue(src.Password))
	}
	kv = append(kv, "dbname="+quoteConnValue(db), "application_name=cairn")
	return strings.Join(kv, " ")
}

// dbOIDs reads the OIDs of dbs on the server c is connected to.
func dbOIDs(ctx context.Context, c *pgx.Conn, dbs []string) (map[string]uint32, error) {
	out := map[string]uint32{}
	for _, db := range dbs {
		oid, err := databaseOID(ctx, c, db)
		if err != nil {
			return nil, err
		}
		out[db] = oid
	}
	return out, nil
}

// sourceDatabases resolves and lists the source's databases to replicate, with their OIDs.
func sourceDatabases(ctx context.Context, env *steps.Env, s Server) (dsn, []string, map[string]uint32, error) {
	src, err := s.resolve(ctx, env)
	if err != nil {
		return src, nil, nil, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return src, nil, nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	dbs, err := databases(ctx, c)
	if err != nil {
		return src, nil, nil, err
	}
	oids, err := dbOIDs(ctx, c, dbs)
	return src, dbs, oids, err
}

func bytesText(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func registerReplication(r *steps.Registry) {
	r.Register("pg-replication-preflight", "read a source (and target) for native logical replication: every refusal at once, tables without a replica identity, large objects, warnings", func() steps.Step { return &ReplicationPreflight{} })
	r.Register("pg-replica-identity", "REPLICA IDENTITY FULL on the tables without a primary key or usable replica identity (confirmed; rollback puts each back)", func() steps.Step { return &ReplicaIdentity{} })
	r.Register("pg-replicate", "publish every database FOR ALL TABLES, create its schema on the target, subscribe (copy_data) with slots named for the run", func() steps.Step { return &Replicate{} })
	r.Register("pg-replication-wait", "wait for the initial copy and a small lag, reporting progress; stop when a slot of this run keeps 80 % of slot-wal-limit-mb (before the server invalidates it and before the source's disk fills)", func() steps.Step { return &ReplicationWait{} })
	r.Register("pg-downtime", "measure the downtime: from the quiesce until the new instance answers under the name (or takes its first write)", func() steps.Step { return &Downtime{} })
	r.Register("pg-lost-writes", "cut-back: list the tables of the new instance written after the cut-over (lost with it)", func() steps.Step { return &LostWrites{} })
	r.Register("pg-replication-drop", "cut-back: drop this run's subscriptions, slots and publications (the target may be gone)", func() steps.Step { return &ReplicationDrop{} })
	r.Register("pg-replication-compare", "before the window, while the application writes: both sides' table states, counts and schemas — a schema difference fails here; the cut-over's baseline", func() steps.Step { return &ReplicationCompare{} })
	r.Register("pg-replication-cutover", "after the quiesce: apply the source's last write, copy sequences and large objects, recount the tables written since the comparison and compare the schemas that moved, drop the replication", func() steps.Step { return &Cutover{} })
}
