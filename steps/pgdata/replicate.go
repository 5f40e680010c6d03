package pgdata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/steps"
)

// Replicate is the `pg-replicate` kind: native logical replication from the source to the new
// instance, per database, so the data moves while the application keeps writing and the window
// holds only the cut-over. On the source the master is granted `rds_replication` (on RDS: what
// lets it stream from slots), and each database gets one publication `cairn_<run>` FOR ALL TABLES;
// on the target each database is created from the source's schema (`pg_dump --schema-only
// --no-publications --no-subscriptions` → `pg_restore --create --exit-on-error`), then one
// subscription per database (copy_data = true) with its slot `cairn_<run>_<db oid>` created on the
// source.
//
// Why FOR ALL TABLES and not FOR TABLE: on PostgreSQL 15 FOR TABLE needs ownership of every table,
// and an application's tables usually belong to an application role, not the master; FOR ALL TABLES
// needs superuser on a stock server and rds_superuser on RDS, which the master has. It also leaves
// no table out by omission: a table the master cannot read fails the initial copy loudly instead of
// being skipped, and a table created later on the source is in the publication (DDL is not
// replicated: the cut-over's schema comparison catches it).
//
// Why the whole schema (indexes and keys too) before the copy, not only pre-data: the subscriber
// finds the row an UPDATE or DELETE names by the table's primary key (or replica identity index),
// and the changes start flowing while the initial copy runs; the indexes slow the copy, but the copy
// is outside the window. Triggers and foreign keys do not fire for replicated rows
// (session_replication_role = replica).
//
// Before it creates anything on either side, it compares the extensions of the source's databases
// with what the target offers (replextensions.go): one the target does not offer, or offers only
// older than the source's, would fail the schema restore half-way, so Check says blocked with every
// one listed and the fix, and Apply refuses with nothing changed.
//
// Check says done only for this run's subscriptions using this run's slots on this source; a slot of
// another cairn run on the source (an abandoned run's, which keeps WAL until the disk fills) is
// blocked with how to drop it; a database on the target this run did not create is blocked, never
// dropped. A database whose schema restore or subscription failed is dropped again; a resumed apply
// redoes a database that has no subscription yet (an orphaned slot of this run's name is dropped
// first). Rollback drops the subscriptions (detaching their slots first, so an unreachable source
// does not stop it), the slots on the source — also when the target is gone —, the publications,
// and the databases this run created on the target.
type Replicate struct {
	Source Server `yaml:"source"`
	Target Server `yaml:"target"`
}

// OutputNames declares the outputs.
func (r *Replicate) OutputNames() []string { return []string{"databases", "slots", "publication"} }

// Describe lists the statements and commands.
func (r *Replicate) Describe(env *steps.Env) []steps.Action {
	src, tgt, pub := r.Source.describe(env), r.Target.describe(env), shownName(env)
	return []steps.Action{
		{Kind: steps.ActSQL, Target: src + " → " + tgt, Text: "-- before anything is created: per source database SELECT extname, extversion FROM pg_extension; on the target SELECT name, version FROM pg_available_extension_versions   -- blocked, every one listed, when the target offers an extension of the source not at all or only older"},
		{Kind: steps.ActSQL, Target: src, Text: "GRANT rds_replication TO CURRENT_USER;   -- on RDS (where the role exists), when the master is not yet a member"},
		{Kind: steps.ActSQL, Target: src, Text: "-- per database not yet subscribed:\nSELECT … FROM pg_class WHERE <no primary key or usable replica identity>   -- any: refused (the replica-identity step first)\n" +
			"CREATE PUBLICATION " + pub + " FOR ALL TABLES;   -- unless it exists\n" +
			"-- only a resumed apply's slot left without its subscription:\nSELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = '" + pub + "_<db oid>' AND active_pid IS NOT NULL; SELECT pg_drop_replication_slot('" + pub + "_<db oid>');"},
		{Kind: steps.ActSQL, Target: tgt, Text: "-- per database not yet subscribed, only when this run's record says it created it (a resumed apply's half-made one):\nDROP DATABASE IF EXISTS <db> WITH (FORCE);"},
		{Kind: steps.ActExec, Target: src + " → " + tgt, Text: "-- per database:\npg_dump -Fc --schema-only --no-publications --no-subscriptions -f <work>/<db>.schema <db> → pg_restore --create --exit-on-error -d postgres <work>/<db>.schema\n" +
			"-- if the restore or the subscription fails: DROP DATABASE IF EXISTS <db> WITH (FORCE) on the target (the half-made database)"},
		{Kind: steps.ActSQL, Target: tgt, Text: "-- per database, in it: the restore made each extension at the target's default version\nALTER EXTENSION <each extension older than the source's> UPDATE TO '<the source's version>';"},
		{Kind: steps.ActSQL, Target: tgt, Text: "-- per database, in it:\nCREATE SUBSCRIPTION " + pub + "_<db oid> CONNECTION '<source endpoint> user=<master> password=•••• dbname=<db>' PUBLICATION " + pub +
			" WITH (copy_data = true, create_slot = true, slot_name = '" + pub + "_<db oid>');   -- the slot is made on the source"},
	}
}

// replState is what Check and Apply read of both sides.
type replState struct {
	src, tgt dsn
	dbs      []string
	oids     map[string]uint32 // source database OIDs
	mine     map[string]slot
	others   []slot
	done     map[string]bool // database → subscription and slot in place
	gaps     []extGap        // extensions of the source the target does not offer as the source has them
}

func (r *Replicate) read(ctx context.Context, env *steps.Env) (*replState, error) {
	st := &replState{done: map[string]bool{}}
	var err error
	if st.src, st.dbs, st.oids, err = sourceDatabases(ctx, env, r.Source); err != nil {
		return st, err
	}
	c, err := st.src.connect(ctx, "")
	if err != nil {
		return st, err
	}
	all, err := cairnSlots(ctx, c)
	c.Close(context.WithoutCancel(ctx))
	if err != nil {
		return st, err
	}
	st.mine, st.others = ofRun(env, all)
	if st.tgt, err = r.Target.resolve(ctx, env); err != nil {
		return st, err
	}
	own, err := createdBy(env)
	if err != nil {
		return st, err
	}
	tc, err := st.tgt.connect(ctx, "")
	if err != nil {
		return st, err
	}
	defer tc.Close(context.WithoutCancel(ctx))
	exts, err := sourceExtensions(ctx, st.src, st.dbs)
	if err != nil {
		return st, err
	}
	if st.gaps, err = extensionGaps(ctx, tc, exts); err != nil {
		return st, err
	}
	for _, db := range st.dbs {
		oid, err := databaseOID(ctx, tc, db)
		if err != nil {
			return st, err
		}
		if oid == 0 {
			continue
		}
		if !own.ours(db, oid) {
			return st, notOurs(st.tgt, db, oid)
		}
		name := slotName(env, st.oids[db])
		sub, ok, err := subscriptionIn(ctx, st.tgt, db, name)
		if err != nil {
			return st, err
		}
		_, slotThere := st.mine[name]
		st.done[db] = ok && sub.Enabled && sub.Slot == name && slotThere
	}
	return st, nil
}

// subscriptionIn reads subscription name in database db of the target.
func subscriptionIn(ctx context.Context, tgt dsn, db, name string) (subscription, bool, error) {
	c, err := tgt.connect(ctx, db)
	if err != nil {
		return subscription{}, false, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return subscriptionOf(ctx, c, name)
}

// blocked is the check's answer when the replication must not start, every reason at once: another
// run's slots on the source, extensions the target lacks.
func (st *replState) blocked() (steps.Check, bool) {
	var reasons, fixes []string
	if len(st.others) > 0 {
		ch := othersBlock(st.src, st.others)
		reasons, fixes = append(reasons, ch.Reason), append(fixes, ch.Fix)
	}
	if len(st.gaps) > 0 {
		r, f := gapsText(st.tgt.Label, st.gaps)
		reasons, fixes = append(reasons, r), append(fixes, f)
	}
	if len(reasons) == 0 {
		return steps.Check{}, false
	}
	return steps.BlockedBy(strings.Join(reasons, "; and "), strings.Join(fixes, "; ")), true
}

// Check says whether every database is subscribed with this run's slot.
func (r *Replicate) Check(ctx context.Context, env *steps.Env) steps.Check {
	st, err := r.read(ctx, env)
	if err != nil {
		if isAbsent(err) {
			return steps.CannotTell("%v (an earlier step makes it)", err)
		}
		return unknownOr(err, "check the source's and the target's connections")
	}
	if ch, blocked := st.blocked(); blocked {
		return ch
	}
	var todo []string
	for _, db := range st.dbs {
		if !st.done[db] {
			todo = append(todo, db)
		}
	}
	if len(todo) == 0 {
		return steps.AlreadyDone("all %d databases of %s are subscribed on %s with this run's slots", len(st.dbs), st.src.Label, st.tgt.Label)
	}
	return steps.ReadyTo(steps.Create, "publish %s, create its schema on %s and subscribe (copy_data) with slots named for this run", strings.Join(todo, ", "), st.tgt.Label)
}

// Apply publishes, creates the schemas and subscribes, database by database.
func (r *Replicate) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	st, err := r.read(ctx, env)
	if err != nil {
		return nil, err
	}
	if ch, blocked := st.blocked(); blocked { // before anything is granted or created
		return nil, steps.Unchanged(steps.Failed(ch.Fix, "%s; nothing was changed", ch.Reason))
	}
	if err := recordTarget(env, st.tgt); err != nil {
		return nil, err
	}
	if err := grantReplication(ctx, env, st.src); err != nil {
		return nil, err
	}
	own, err := createdBy(env)
	if err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(env.WorkDir, "replicate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var slots []string
	for i, db := range st.dbs {
		env.Out.Progress(float64(i), float64(len(st.dbs)), "databases")
		name := slotName(env, st.oids[db])
		slots = append(slots, name)
		if st.done[db] {
			env.Info(db + ": subscribed already (" + name + ")")
			continue
		}
		if err := r.one(ctx, env, st, own, work, db, name); err != nil {
			return nil, err
		}
	}
	env.Out.Progress(float64(len(st.dbs)), float64(len(st.dbs)), "databases")
	return steps.Outputs{"databases": steps.Output{Value: strings.Join(st.dbs, ","), List: st.dbs}, "slots": steps.Output{List: slots}}.Set("publication", publicationName(env)), nil
}

// grantReplication makes the master a member of rds_replication where the role exists (RDS).
func grantReplication(ctx context.Context, env *steps.Env, src dsn) error {
	c, err := src.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var need bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rds_replication')
		AND NOT pg_has_role(current_user, 'rds_replication', 'MEMBER')`).Scan(&need); err != nil || !need {
		return err
	}
	if _, err := c.Exec(ctx, "GRANT rds_replication TO CURRENT_USER"); err != nil {
		return fmt.Errorf("GRANT rds_replication to the master on %s: %w", src.Label, err)
	}
	env.Info("granted rds_replication to the master on " + src.Label)
	return nil
}

// one replicates one database: publication, schema, subscription.
func (r *Replicate) one(ctx context.Context, env *steps.Env, st *replState, own *created, work, db, name string) error {
	pub := publicationName(env)
	sc, err := st.src.connect(ctx, db)
	if err != nil {
		return err
	}
	defer sc.Close(context.WithoutCancel(ctx))
	if bad, err := tablesWithoutIdentity(ctx, sc); err != nil || len(bad) > 0 {
		if err != nil {
			return err
		}
		return steps.Failed("run the replica-identity step first (REPLICA IDENTITY FULL)", "%s: tables without a primary key or usable replica identity: %s — published, their UPDATEs and DELETEs would fail on the source", db, strings.Join(bad, ", "))
	}
	var havePub bool
	if err := sc.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_publication WHERE pubname = $1)", pub).Scan(&havePub); err != nil {
		return err
	}
	if !havePub {
		if _, err := sc.Exec(ctx, "CREATE PUBLICATION "+ident(pub)+" FOR ALL TABLES"); err != nil {
			return fmt.Errorf("%s: CREATE PUBLICATION %s FOR ALL TABLES on %s: %w", db, pub, st.src.Label, err)
		}
	}
	if _, ok := st.mine[name]; ok { // an interrupted apply's slot without its subscription
		if err := dropSlot(ctx, sc, name); err != nil {
			return err
		}
	}
	// an interrupted apply's database (this run's, by the record) is made again from scratch
	if err := own.dropOurs(ctx, st.tgt, db); err != nil {
		return err
	}
	if err := own.mark(db, 0); err != nil {
		return err
	}
	schema := filepath.Join(work, db+".schema")
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_dump", "-Fc", "--schema-only", "--no-publications", "--no-subscriptions", "-f", schema, "-d", st.src.dbArg(db)}, Env: st.src.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_dump (schema) %s: %w", db, err)
	}
	fail := func(err error) error {
		if derr := dropDatabase(context.WithoutCancel(ctx), st.tgt, db); derr != nil {
			return fmt.Errorf("%w; dropping the half-made database failed too: %v", err, derr)
		}
		return fmt.Errorf("%w (the half-made database was dropped)", err)
	}
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_restore", "--create", "--exit-on-error", "-d", st.tgt.dbArg("postgres"), schema}, Env: st.tgt.environ(env.Environ, "")}); err != nil {
		return fail(fmt.Errorf("pg_restore (schema) %s: %w", db, err))
	}
	if err := own.recordCreated(ctx, st.tgt, db); err != nil {
		return err
	}
	tc, err := st.tgt.connect(ctx, db)
	if err != nil {
		return fail(err)
	}
	defer tc.Close(context.WithoutCancel(ctx))
	if err := alignExtensions(ctx, env, sc, tc, db); err != nil {
		return fail(err)
	}
	conninfo := subscriberConnInfo(st.src, db)
	q := fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH (copy_data = true, create_slot = true, slot_name = %s)", ident(name), literal(conninfo), ident(pub), literal(name))
	if _, err := tc.Exec(ctx, q); err != nil {
		return fail(fmt.Errorf("%s: CREATE SUBSCRIPTION %s on %s: %w", db, name, st.tgt.Label, err))
	}
	env.Info(fmt.Sprintf("%s: published (%s), schema created on %s, subscribed (%s, copy_data) — the initial copy runs in the background", db, pub, st.tgt.Label, name))
	return nil
}

// dropSlot drops a replication slot on the source, ending the walsender that holds it first.
func dropSlot(ctx context.Context, c *pgx.Conn, name string) error {
	if _, err := c.Exec(ctx, "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE slot_name = $1 AND active_pid IS NOT NULL", name); err != nil {
		return fmt.Errorf("end the walsender of slot %s: %w", name, err)
	}
	for range 20 { // the walsender releases the slot as it exits
		_, err := c.Exec(ctx, "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", name)
		if err == nil {
			return nil
		}
		if !hasSQLState(err, "55006") { // object_in_use: the walsender still holds it
			return fmt.Errorf("drop replication slot %s: %w", name, err)
		}
		if err := sleepCtx(ctx, 250); err != nil {
			return err
		}
	}
	return steps.Failed("retry the rollback", "drop replication slot %s: still active after its walsender was ended", name)
}

// Observe reads the outputs of a replication found in place.
func (r *Replicate) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	_, dbs, oids, err := sourceDatabases(ctx, env, r.Source)
	if err != nil {
		return nil, err
	}
	var slots []string
	for _, db := range dbs {
		slots = append(slots, slotName(env, oids[db]))
	}
	return steps.Outputs{"databases": steps.Output{Value: strings.Join(dbs, ","), List: dbs}, "slots": steps.Output{List: slots}}.Set("publication", publicationName(env)), nil
}

// Verify proves every database is subscribed with this run's slot.
func (r *Replicate) Verify(ctx context.Context, env *steps.Env) error {
	st, err := r.read(ctx, env)
	if err != nil {
		return err
	}
	var missing []string
	for _, db := range st.dbs {
		if !st.done[db] {
			missing = append(missing, db)
		}
	}
	if len(missing) > 0 {
		return &steps.VerifyError{What: "subscriptions", Expected: "every database subscribed with this run's slot", Found: "not: " + strings.Join(missing, ", ")}
	}
	return nil
}

// Rollback drops the subscriptions, this run's slots and publications, and the databases this run
// created on the target. The source's slots go even when the target cannot be reached; the rollback
// then fails with the statements to run there, unless RDS proves the target deleted (no instance
// with its recorded DbiResourceId: replunreached.go).
func (r *Replicate) Rollback(ctx context.Context, env *steps.Env) error {
	src, dbs, oids, err := sourceDatabases(ctx, env, r.Source)
	if err != nil {
		return err
	}
	own, err := createdBy(env)
	if err != nil {
		return err
	}
	tgt, terr := r.Target.resolve(ctx, env)
	if terr == nil {
		var c *pgx.Conn
		if c, terr = tgt.connect(ctx, ""); terr == nil {
			c.Close(context.WithoutCancel(ctx))
		}
	}
	if terr == nil {
		for _, db := range dbs {
			if err := dropSubscription(ctx, env, tgt, db, slotName(env, oids[db])); err != nil {
				return err
			}
		}
	}
	var left error // what an unreachable target still holds, not proved deleted
	if terr != nil {
		if gone, err := r.targetGone(ctx, env, terr, dbs, oids, own); !gone {
			left = err
		}
	}
	if err := dropRunSlots(ctx, env, src, dbs); err != nil {
		return err
	}
	if left != nil {
		return left
	}
	if terr == nil {
		for _, db := range dbs {
			if err := own.dropOurs(ctx, tgt, db); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropSubscription drops subscription name in database db of the target, detached from its slot
// first (so the drop does not need the source); the slot is dropped on the source by dropRunSlots.
func dropSubscription(ctx context.Context, env *steps.Env, tgt dsn, db, name string) error {
	tc, err := tgt.connect(ctx, db)
	if err != nil {
		if isAbsent(err) {
			return nil
		}
		return err
	}
	defer tc.Close(context.WithoutCancel(ctx))
	return dropSubscriptionOn(ctx, env, tc, tgt, db, name)
}

// dropSubscriptionOn is dropSubscription on tc, a connection to database db of the target.
func dropSubscriptionOn(ctx context.Context, env *steps.Env, tc *pgx.Conn, tgt dsn, db, name string) error {
	_, ok, err := subscriptionOf(ctx, tc, name)
	if err != nil || !ok {
		return err
	}
	for _, q := range []string{"ALTER SUBSCRIPTION %s DISABLE", "ALTER SUBSCRIPTION %s SET (slot_name = NONE)", "DROP SUBSCRIPTION %s"} {
		if _, err := tc.Exec(ctx, fmt.Sprintf(q, ident(name))); err != nil {
			return fmt.Errorf("%s: %s: %w", db, fmt.Sprintf(q, name), err)
		}
	}
	env.Info(fmt.Sprintf("%s: subscription %s dropped on %s", db, name, tgt.Label))
	return nil
}

// dropRunSlots drops this run's slots on the source and its publication in each database.
func dropRunSlots(ctx context.Context, env *steps.Env, src dsn, dbs []string) error {
	c, err := src.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	all, err := cairnSlots(ctx, c)
	if err != nil {
		return err
	}
	mine, _ := ofRun(env, all)
	for _, name := range sortedKeys(mine) {
		if err := dropSlot(ctx, c, name); err != nil {
			return err
		}
		env.Info(fmt.Sprintf("replication slot %s dropped on %s (it kept %s of WAL)", name, src.Label, bytesText(mine[name].Retained)))
	}
	for _, db := range dbs {
		dc, err := src.connect(ctx, db)
		if err != nil {
			return err
		}
		_, err = dc.Exec(ctx, "DROP PUBLICATION IF EXISTS "+ident(publicationName(env)))
		dc.Close(context.WithoutCancel(ctx))
		if err != nil {
			return fmt.Errorf("%s: drop publication %s: %w", db, publicationName(env), err)
		}
	}
	return nil
}

// ReplicationDrop is the `pg-replication-drop` kind, the replicate strategy's cut-back: it drops this
// run's subscriptions (when the target still answers; when it does not and RDS does not prove it
// deleted, it says what is left there and the statements), its slots and its publications on the source —
// what the replicate step's rollback does, for a cut-back that deletes the target instead of walking
// the run back. A slot left behind keeps WAL on the source until its disk fills. Another run's slots
// are never touched. Check says done when no slot of this run is on the source. It cannot be rolled
// back (a dropped slot's position is gone).
type ReplicationDrop struct {
	Source Server `yaml:"source"`
	Target Server `yaml:"target"`
}

// Describe lists the statements.
func (d *ReplicationDrop) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		{Kind: steps.ActSQL, Target: d.Target.describe(env), Text: "-- per database, when the target still answers: ALTER SUBSCRIPTION <sub> DISABLE; ALTER SUBSCRIPTION <sub> SET (slot_name = NONE); DROP SUBSCRIPTION <sub>;"},
		{Kind: steps.ActSQL, Target: d.Source.describe(env), Text: "SELECT pg_drop_replication_slot(<each slot " + shownName(env) + "_…>); DROP PUBLICATION IF EXISTS " + shownName(env) + ";   -- per database"},
	}
}

func (d *ReplicationDrop) left(ctx context.Context, env *steps.Env) ([]string, error) {
	src, err := d.Source.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	all, err := cairnSlots(ctx, c)
	if err != nil {
		return nil, err
	}
	mine, _ := ofRun(env, all)
	return sortedKeys(mine), nil
}

// Check says whether slots of this run are left.
func (d *ReplicationDrop) Check(ctx context.Context, env *steps.Env) steps.Check {
	left, err := d.left(ctx, env)
	if err != nil {
		return unknownOr(err, "check the source's connection and credentials")
	}
	if len(left) == 0 {
		return steps.AlreadyDone("no replication slot of this run is on the source")
	}
	return steps.ReadyTo(steps.Delete, "drop this run's replication (%s) so no slot keeps WAL on the source", strings.Join(left, ", "))
}

// Apply drops the replication.
func (d *ReplicationDrop) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	r := &Replicate{Source: d.Source, Target: d.Target}
	err := r.Rollback(ctx, env)
	// Its work is the source's slots, which are dropped; what an unreachable target still holds is
	// said, with its fix, not claimed gone.
	var left *targetLeft
	if errors.As(err, &left) {
		env.Info(fmt.Sprintf("%v — if it still exists: %s", err, steps.FixOf(err)))
		return nil, nil
	}
	return nil, err
}

// Verify proves no slot of this run is left.
func (d *ReplicationDrop) Verify(ctx context.Context, env *steps.Env) error {
	if left, err := d.left(ctx, env); err != nil || len(left) > 0 {
		return &steps.VerifyError{What: "replication slots", Expected: "none of this run's", Found: fmt.Sprint(left, err)}
	}
	return nil
}

// Rollback cannot bring a dropped slot back.
func (d *ReplicationDrop) Rollback(context.Context, *steps.Env) error {
	return steps.NotReversible("a dropped replication slot's position is gone; replicate again")
}
