package pgdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Cutover is the `pg-replication-cutover` kind, the replicate strategy's window after the quiesce:
//
//  1. it reads the source's current WAL insert position and waits until every subscription of this
//     run has applied it (its slot's confirmed_flush_lsn at or past it), then disables them and
//     waits until their apply workers have exited (which hands their table statistics over);
//  2. copies every sequence (not replicated): setval from the source's last_value — never lower
//     than the target's own; copies the large objects (not replicated; the preflight said so): the
//     target's are replaced by the source's, read from the quiesced source with pg_dump's
//     large-object entries alone; and reads every table's state and the catalogs' fingerprints on
//     both sides — all at once;
//  3. counts on both sides, each database under one snapshot, and — with Checksums — hashes, the
//     tables written since the comparison before the window (Baseline, pg-replication-compare's
//     record: see cutproof.go), and the large objects; a table unchanged on both sides since, equal
//     then, is not counted again. Without this run's baseline for these servers, or with a session
//     other than cairn's on the target, every table is counted. Every difference is listed and
//     nothing is dropped;
//  4. compares the schemas (`pg_dump --schema-only`, both sides) of the databases whose catalog
//     fingerprint moved since the comparison (all, without one): DDL is not replicated, so a change
//     made on the source during the replication stops the cut-over here;
//  5. records what it proved (the run's work directory), then drops the subscriptions, this run's
//     slots and publications.
//
// Nothing is dropped until 1–4 pass, so a failure leaves the replication running (the subscriptions
// enabled again): fix and retry. A re-entry (a resume after a kill) enables a subscription of this
// run it finds disabled before it waits for the catch-up, and waits for and proves only the
// databases whose subscription is still there: one dropped after this run's record keeps the
// record's counts and only finishes its drop (cutresume.go lists every kill point).
// Check says done only after this run's record, with none of its subscriptions or slots left; a
// subscription gone without that record proving its database (dropped by hand, another run's copy)
// is blocked. A re-run after a kill finds the work where it stopped: each part is idempotent. It cannot
// be rolled back: the slots are gone, so the replication cannot resume where it stopped — the
// runbook's cut-back gives the source its name back instead.
type Cutover struct {
	Source    Server       `yaml:"source"`
	Target    Server       `yaml:"target"`
	Quiesce   ref.Template `yaml:"quiesce"`
	Checksums ref.Template `yaml:"checksums"`
	// Baseline is pg-replication-compare's record (its `baseline` output); without it every table
	// is counted.
	Baseline ref.Template `yaml:"baseline"`
}

// OutputNames declares the outputs.
func (c *Cutover) OutputNames() []string {
	return []string{"lsn", "tables", "rows", "sequences", "counts", "target-writes"}
}

// Describe lists the statements.
func (c *Cutover) Describe(env *steps.Env) []steps.Action {
	src, tgt := c.Source.describe(env), c.Target.describe(env)
	sum := map[bool]string{true: " and md5 of its rows", false: ""}[env.Describe(c.Checksums) == "true"]
	return []steps.Action{
		{Kind: steps.ActSQL, Target: src, Text: "SELECT pg_current_wal_insert_lsn();   -- after the quiesce: everything written before the window"},
		{Kind: steps.ActSQL, Target: tgt, Text: "ALTER SUBSCRIPTION <each of this run's subscriptions> ENABLE;   -- only one found disabled (a resumed cut-over), before the wait"},
		{Kind: steps.ActWait, Target: src, Text: "poll: SELECT confirmed_flush_lsn >= <that position> FROM pg_replication_slots WHERE slot_name = <the slot of each of this run's subscriptions still there>   -- the target has applied it (a slot gone: stop)"},
		{Kind: steps.ActSQL, Target: tgt + " and " + src, Text: "ALTER SUBSCRIPTION <each of this run's subscriptions> DISABLE;\npoll: SELECT pg_terminate_backend(pid) FROM pg_stat_subscription WHERE subname = <each> AND pid IS NOT NULL (target); SELECT count(*) FROM pg_replication_slots WHERE slot_name = <each> AND active (source)   -- until both are none: the apply workers have exited, their counts handed over\n-- on any failure before the drop: ALTER SUBSCRIPTION <each> ENABLE (the replication goes on)"},
		{Kind: steps.ActSQL, Target: src + " → " + tgt, Text: "-- per database, at once with the large objects and the states:\nSELECT last_value, is_called FROM <seq> (both sides) → SELECT setval(<seq>, <source's last_value>, <is_called>) on the target, unless the target's is already higher"},
		{Kind: steps.ActExec, Target: src + " → " + tgt, Text: "-- only in a database with large objects:\nSELECT lo_unlink(oid) FROM pg_largeobject_metadata (target); pg_dump -Fc <db> → pg_restore --exit-on-error -L <its BLOB, BLOBS and LARGE OBJECT entries only> -d <db>"},
		{Kind: steps.ActSQL, Target: src + " and " + tgt, Text: "-- per database, the state again, as the comparison read it (" + env.Describe(c.Baseline) + "):\n" + tableStateSQL + ";\nSELECT '<catalog>:' || count(*) || ':' || md5(string_agg(xmin::text, ',' ORDER BY xmin::text)) FROM <each schema-bearing catalog>;\n" +
			"SELECT … FROM pg_stat_activity WHERE backend_type = 'client backend' AND application_name <> 'cairn' (target)   -- another session there: every table is counted"},
		{Kind: steps.ActSQL, Target: src + " and " + tgt, Text: "-- per database, one REPEATABLE READ snapshot per side:\nSELECT count(*)" + sum + " FROM ONLY <each user table written since the comparison (its state moved on either side; every table without this run's comparison)>; SELECT count(*) FROM pg_largeobject_metadata   -- every count must be equal"},
		{Kind: steps.ActExec, Target: src + " and " + tgt, Text: "pg_dump --schema-only --no-publications --no-subscriptions <db>   -- both sides, for a database whose catalog fingerprint moved since the comparison (every one without it); the schemas must be the same (DDL is not replicated)"},
		{Kind: steps.ActSQL, Target: tgt, Text: "-- per database: ALTER SUBSCRIPTION <sub> DISABLE; ALTER SUBSCRIPTION <sub> SET (slot_name = NONE); DROP SUBSCRIPTION <sub>;"},
		{Kind: steps.ActSQL, Target: src, Text: "SELECT pg_drop_replication_slot(<each of this run's slots>); DROP PUBLICATION " + shownName(env) + ";   -- per database"},
	}
}

// cutoverRecord is what the cut-over proved, kept in the run's work directory before anything is
// dropped: the run, the position applied, and every table's count.
type cutoverRecord struct {
	path   string
	RunID  string                      `json:"run_id"`
	LSN    string                      `json:"lsn"`
	At     time.Time                   `json:"at"`
	Counts map[string]map[string]int64 `json:"counts"`
	// Sequences is how many sequences the proof set from the source.
	Sequences int `json:"sequences,omitempty"`
	// TargetWrites are the target's write counters right after the replication was dropped: what
	// a cut-back compares with to list the writes made on the new instance afterwards.
	TargetWrites map[string]map[string][3]int64 `json:"target_writes,omitempty"`
}

func cutoverRecordOf(env *steps.Env) (*cutoverRecord, bool, error) {
	r := &cutoverRecord{}
	path, found, err := workRecord(env, "cutover", "the cut-over's record", r)
	r.path = path
	if err != nil || !found {
		return r, false, err
	}
	return r, r.RunID == env.RunID, nil
}

// Check says whether this run's cut-over is done.
func (c *Cutover) Check(ctx context.Context, env *steps.Env) steps.Check {
	st, err := c.cutoverState(ctx, env)
	if err != nil {
		if isAbsent(err) {
			return steps.CannotTell("%v (an earlier step makes it)", err)
		}
		return unknownOr(err, "check the source's and the target's connections")
	}
	rec, ours, err := cutoverRecordOf(env)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	return st.judge(rec, ours)
}

// judge is the check's answer for what the cut-over found and its record.
func (st cutState) judge(rec *cutoverRecord, ours bool) steps.Check {
	parts, left := st.split(rec, ours), st.left()
	switch {
	case len(parts[dbUnproven]) > 0 && (len(left) > 0 || ours):
		return st.unprovenBlock(parts[dbUnproven])
	case len(parts[dbLive]) == 0 && len(left) > 0:
		return steps.ReadyTo(steps.Update, "finish an interrupted cut-over: this run's record proved the rows at %s; drop %s", rec.LSN, strings.Join(left, ", "))
	case len(parts[dbRecorded]) > 0 && len(parts[dbLive]) > 0:
		return steps.ReadyTo(steps.Update, "resume an interrupted cut-over: %s proven by this run's record at %s, their subscriptions dropped; wait for %s to apply the source's last write, copy sequences and large objects, compare rows and schemas, then drop %s",
			strings.Join(parts[dbRecorded], ", "), rec.LSN, strings.Join(parts[dbLive], ", "), strings.Join(left, ", "))
	case len(left) > 0:
		return steps.ReadyTo(steps.Update, "wait for the target to apply the source's last write, copy sequences and large objects, compare rows and schemas, then drop %s", strings.Join(left, ", "))
	case ours && rec.TargetWrites == nil:
		return steps.ReadyTo(steps.Update, "read the target's write counters (an interrupted cut-over dropped the replication at %s before it recorded them)", rec.LSN)
	case ours:
		return steps.AlreadyDone("cut over at %s: rows and schemas compared, subscriptions and slots dropped", rec.LSN)
	}
	return steps.BlockedBy(fmt.Sprintf("no subscription or slot of this run is left on %s, and this run did not cut over: the replication was dropped outside this step (or the databases there are another run's copy) — nothing proves the target holds the source's last writes", st.tgt.Label),
		"roll back to the replicate step (`cairn rollback`) and replicate again; never swap names on an unproven copy")
}

// cutRun is one Apply's work: what it found, the window's connections and the record.
type cutRun struct {
	st    cutState
	parts map[dbState][]string
	p     *pool
	rec   *cutoverRecord
	seqs  int
}

// Apply catches up, copies what replication does not, verifies, records, and drops the replication.
func (c *Cutover) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	r, err := c.begin(ctx, env)
	if err != nil {
		return nil, err
	}
	defer r.p.close(ctx)
	if err := c.record(ctx, env, r); err != nil {
		return nil, err
	}
	return c.detach(ctx, env, r)
}

// begin reads where the cut-over stands and opens the window's connections: one per database and
// side (each costs a TLS handshake and an authentication).
func (c *Cutover) begin(ctx context.Context, env *steps.Env) (*cutRun, error) {
	st, err := c.cutoverState(ctx, env)
	if err != nil {
		return nil, err
	}
	rec, ours, err := cutoverRecordOf(env)
	if err != nil {
		return nil, err
	}
	r := &cutRun{st: st, parts: st.split(rec, ours), rec: rec}
	if ch := st.judge(rec, ours); ch.State == steps.Blocked {
		return nil, ch.Err()
	}
	if r.p, err = openPool(ctx, st.src, st.tgt, st.dbs); err != nil {
		return nil, err
	}
	return r, nil
}

// record proves the databases whose subscription is still there (caught up, paused, counted,
// schemas compared) and saves the record before anything is dropped. The databases an earlier,
// interrupted run proved and began to drop keep that record's counts; with none left to prove,
// nothing is proven again.
func (c *Cutover) record(ctx context.Context, env *steps.Env, r *cutRun) error {
	live, rec := r.parts[dbLive], r.rec
	if len(live) == 0 {
		if len(r.st.left()) > 0 {
			env.Info(fmt.Sprintf("an interrupted cut-over: this run's record proved the rows at %s; finishing its drops", rec.LSN))
		}
		r.seqs = rec.Sequences
		return nil
	}
	if done := r.parts[dbRecorded]; len(done) > 0 {
		env.Info(fmt.Sprintf("an interrupted cut-over: %s proven by this run's record at %s, their subscriptions dropped — not waited for again", strings.Join(done, ", "), rec.LSN))
	}
	checksums := false
	if s, err := env.OptionalText(c.Checksums); err == nil {
		checksums = isTrueText(s)
	}
	p := r.p.only(live)
	// a resumed cut-over may find them disabled: the catch-up needs them running
	on, err := subscriptions(ctx, env, p, r.st.oids, true)
	if err != nil {
		return err
	}
	if len(on) > 0 {
		env.Info("enabled again (left disabled by an interrupted cut-over): " + strings.Join(on, ", "))
	}
	var names []string
	for _, db := range live {
		names = append(names, r.st.sub(db))
	}
	lsn, err := c.catchUp(ctx, env, p.any(source), names)
	var counts map[string]map[string]int64
	if err == nil {
		err = pauseApply(ctx, env, p, r.st.oids)
	}
	if err == nil {
		counts, _, _, r.seqs, err = c.prove(ctx, env, p, checksums)
	}
	if err != nil {
		// nothing dropped: the replication goes on (on fresh connections: the window's may have
		// gone with a cancelled context)
		fresh := &pool{src: r.st.src, tgt: r.st.tgt, dbs: live}
		if _, e := subscriptions(context.WithoutCancel(ctx), env, fresh, r.st.oids, true); e != nil {
			fix := "ALTER SUBSCRIPTION … ENABLE on " + r.st.tgt.Label
			if f := steps.FixOf(err); f != "" {
				fix += "; then " + f
			}
			err = steps.WithFix(fmt.Errorf("%w\n(and enabling the subscriptions again failed: %v)", err, e), fix)
		}
		return err
	}
	for _, db := range r.parts[dbRecorded] {
		counts[db] = rec.Counts[db]
	}
	rec.RunID, rec.LSN, rec.Counts, rec.Sequences, rec.At = env.RunID, lsn, counts, r.seqs, time.Now().UTC()
	return saveRecord(rec.path, rec)
}

// detach drops the replication (what is left of it), records the target's write counters (once:
// right after the drop) and gives the outputs.
func (c *Cutover) detach(ctx context.Context, env *steps.Env, r *cutRun) (steps.Outputs, error) {
	rec, p := r.rec, r.p
	for i, db := range p.dbs {
		if err := dropSubscriptionOn(ctx, env, p.conns[i][target], r.st.tgt, db, r.st.sub(db)); err != nil {
			return nil, err
		}
	}
	if err := dropRunSlots(ctx, env, r.st.src, p.dbs); err != nil {
		return nil, err
	}
	if rec.TargetWrites == nil {
		// the target's write counters now: a cut-back compares with them to list the writes made
		// on the new instance after the cut-over (they are lost when it goes)
		w := map[string]map[string][3]int64{}
		for i, db := range p.dbs {
			var err error
			if w[db], err = writesOn(ctx, p.conns[i][target], db); err != nil {
				return nil, err
			}
		}
		rec.TargetWrites = w
		if err := saveRecord(rec.path, rec); err != nil {
			return nil, err
		}
	}
	b, _ := json.Marshal(rec.Counts)
	wb, _ := json.Marshal(rec.TargetWrites)
	tables, rows := totals(rec.Counts)
	return steps.Outputs{}.Set("lsn", rec.LSN).Set("tables", strconv.Itoa(tables)).Set("rows", strconv.FormatInt(rows, 10)).
		Set("sequences", strconv.Itoa(r.seqs)).Set("counts", string(b)).Set("target-writes", string(wb)), nil
}

// catchUp waits until each of the slots names (those of this run's subscriptions still there: a
// dropped one's slot never advances again) has confirmed the source's current insert position. A
// slot gone from the source stops it: its subscription can never catch up.
func (c *Cutover) catchUp(ctx context.Context, env *steps.Env, sc *pgx.Conn, names []string) (string, error) {
	var lsn string
	if err := sc.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&lsn); err != nil {
		return "", fmt.Errorf("read the source's WAL position: %w", err)
	}
	t0 := time.Now()
	env.Info("waiting for the target to apply the source's WAL up to " + lsn)
	var said time.Time
	for {
		var behind int
		var lag int64
		var there []string
		if err := sc.QueryRow(ctx, `SELECT count(*) FILTER (WHERE confirmed_flush_lsn IS NULL OR confirmed_flush_lsn < $1::pg_lsn),
				coalesce(max(pg_wal_lsn_diff($1::pg_lsn, confirmed_flush_lsn)), 0)::bigint, coalesce(array_agg(slot_name::text), '{}')
			FROM pg_replication_slots WHERE slot_name = ANY($2)`, lsn, names).Scan(&behind, &lag, &there); err != nil {
			return "", fmt.Errorf("read the slots' positions: %w", err)
		}
		if len(there) < len(names) {
			var gone []string
			for _, n := range names {
				if !slices.Contains(there, n) {
					gone = append(gone, n)
				}
			}
			return "", steps.Failed("roll back to the replicate step (`cairn rollback`) and replicate again", "the slots %s are gone from the source while their subscriptions are on the target: they can never apply the source's last writes; nothing was dropped", strings.Join(gone, ", "))
		}
		if behind == 0 {
			env.Info(fmt.Sprintf("the target applied everything up to %s (%s)", lsn, since(t0)))
			return lsn, nil
		}
		env.Out.Progress(0, float64(max(lag, 1)), "bytes to apply")
		if time.Since(said) >= 10*time.Second {
			said = time.Now()
			env.Info(fmt.Sprintf("still waiting for %d subscriptions to apply up to %s (%s behind) [%s elapsed]", behind, lsn, bytesText(max(lag, 0)), since(t0)))
		}
		if err := sleepCtx(ctx, 100); err != nil {
			return "", err
		}
	}
}

// syncSequences sets every sequence of db on the target (tc) from the source's (sc), never lower
// than the target's own value, and returns how many it set.
func syncSequences(ctx context.Context, env *steps.Env, sc, tc *pgx.Conn, db string) (int, error) {
	seqs, err := names(ctx, sc, `SELECT format('%I.%I', n.nspname, s.relname) FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
		WHERE s.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype = 'e') ORDER BY 1`)
	if err != nil || len(seqs) == 0 {
		return 0, err
	}
	set := 0
	for _, q := range seqs {
		var last, tlast int64
		var called, tcalled bool
		if err := sc.QueryRow(ctx, "SELECT last_value, is_called FROM "+q).Scan(&last, &called); err != nil {
			return set, fmt.Errorf("%s: read sequence %s on the source: %w", db, q, err)
		}
		if err := tc.QueryRow(ctx, "SELECT last_value, is_called FROM "+q).Scan(&tlast, &tcalled); err != nil {
			return set, fmt.Errorf("%s: read sequence %s on the target: %w", db, q, err)
		}
		if tlast > last || tlast == last && (tcalled || !called) {
			continue // the target is already there or past it: never moved back
		}
		if _, err := tc.Exec(ctx, "SELECT setval($1::regclass, $2, $3)", q, last, called); err != nil {
			return set, fmt.Errorf("%s: set sequence %s: %w", db, q, err)
		}
		set++
	}
	env.Info(fmt.Sprintf("%s: %d of %d sequences set from the source", db, set, len(seqs)))
	return set, nil
}

// syncLargeObjects replaces the target's large objects of db with the source's n (n > 0).
func syncLargeObjects(ctx context.Context, env *steps.Env, src, tgt dsn, db string, n int64) error {
	work, err := os.MkdirTemp(env.WorkDir, "blobs-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	archive := filepath.Join(work, "blobs.dump")
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_dump", "-Fc", "--blobs", "--exclude-table=*.*", "-f", archive, "-d", src.dbArg(db)}, Env: src.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_dump (large objects) %s: %w", db, err)
	}
	listed, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_restore", "-l", archive}, Env: src.environ(env.Environ, ""), Quiet: true})
	if err != nil {
		return fmt.Errorf("pg_restore -l (large objects) %s: %w", db, err)
	}
	var keep []string
	for _, l := range strings.Split(listed.Stdout, "\n") {
		if strings.Contains(l, " BLOB ") || strings.Contains(l, " BLOBS ") || strings.Contains(l, " LARGE OBJECT ") || strings.Contains(l, " BLOB METADATA ") {
			keep = append(keep, l)
		}
	}
	list := archive + ".list"
	if err := os.WriteFile(list, []byte(strings.Join(keep, "\n")+"\n"), 0o600); err != nil {
		return err
	}
	tc, err := tgt.connect(ctx, db)
	if err != nil {
		return err
	}
	_, err = tc.Exec(ctx, "SELECT count(lo_unlink(oid)) FROM pg_largeobject_metadata")
	tc.Close(context.WithoutCancel(ctx))
	if err != nil {
		return fmt.Errorf("%s: remove the target's large objects before the copy: %w", db, err)
	}
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_restore", "--exit-on-error", "-L", list, "-d", tgt.dbArg(db), archive}, Env: tgt.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_restore (large objects) %s: %w", db, err)
	}
	env.Info(fmt.Sprintf("%s: %d large objects copied from the quiesced source", db, n))
	return nil
}

// parallel runs the jobs at once and returns the first error.
func parallel(jobs ...func() error) error {
	errs := make([]error, len(jobs))
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() { errs[i] = j() })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// compareSchemas compares pg_dump --schema-only of each database on both sides (all dumped at once).
func compareSchemas(ctx context.Context, env *steps.Env, src, tgt dsn, dbs []string) error {
	a, b := make([][]string, len(dbs)), make([][]string, len(dbs))
	var jobs []func() error
	for i, db := range dbs {
		jobs = append(jobs,
			func() (err error) { a[i], err = schemaText(ctx, env, src, db); return err },
			func() (err error) { b[i], err = schemaText(ctx, env, tgt, db); return err })
	}
	if err := parallel(jobs...); err != nil {
		return err
	}
	var diffs []string
	for i, db := range dbs {
		for _, l := range a[i] {
			if !slices.Contains(b[i], l) {
				diffs = append(diffs, db+": only on the source: "+l)
			}
		}
		for _, l := range b[i] {
			if !slices.Contains(a[i], l) {
				diffs = append(diffs, db+": only on the target: "+l)
			}
		}
	}
	if len(diffs) > 0 {
		if len(diffs) > 20 {
			diffs = append(diffs[:20], fmt.Sprintf("… and %d more", len(diffs)-20))
		}
		return steps.Failed("apply the same change on the other side, then retry", "the schemas differ (DDL is not replicated: a schema change was made on one side during the replication); nothing was dropped:\n%s", strings.Join(diffs, "\n"))
	}
	env.Info(fmt.Sprintf("schemas of %d databases: the same on both sides", len(dbs)))
	return nil
}

// schemaText is a database's schema as pg_dump prints it, without comments, blank lines and the
// per-run \restrict keys.
func schemaText(ctx context.Context, env *steps.Env, d dsn, db string) ([]string, error) {
	res, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_dump", "--schema-only", "--no-publications", "--no-subscriptions", "-d", d.dbArg(db)}, Env: d.environ(env.Environ, ""), Quiet: true})
	if err != nil {
		return nil, fmt.Errorf("pg_dump --schema-only %s on %s: %w", db, d.Label, err)
	}
	var lines []string
	for _, l := range strings.Split(res.Stdout, "\n") {
		if l == "" || strings.HasPrefix(l, "--") || strings.HasPrefix(l, `\restrict`) || strings.HasPrefix(l, `\unrestrict`) {
			continue
		}
		lines = append(lines, l)
	}
	return lines, nil
}

// Observe reads the outputs of a cut-over found done.
func (c *Cutover) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rec, _, err := cutoverRecordOf(env)
	if err != nil {
		return nil, err
	}
	tables, rows := totals(rec.Counts)
	b, _ := json.Marshal(rec.Counts)
	out := steps.Outputs{}.Set("lsn", rec.LSN).Set("tables", strconv.Itoa(tables)).Set("rows", strconv.FormatInt(rows, 10)).Set("counts", string(b))
	if rec.TargetWrites != nil {
		wb, _ := json.Marshal(rec.TargetWrites)
		out.Set("target-writes", string(wb))
	}
	return out, nil
}

// Verify proves no subscription or slot of this run is left and the cut-over's record is there.
// The rows were compared by the apply, under the quiesce; counting them again would only lengthen
// the window.
func (c *Cutover) Verify(ctx context.Context, env *steps.Env) error {
	st, err := c.cutoverState(ctx, env)
	if err != nil {
		return err
	}
	if left := st.left(); len(left) > 0 {
		return &steps.VerifyError{What: "replication after the cut-over", Expected: "no subscription or slot of this run", Found: strings.Join(left, ", ")}
	}
	if _, ours, err := cutoverRecordOf(env); err != nil || !ours {
		return &steps.VerifyError{What: "the cut-over's record", Expected: "this run's, with every table's count", Found: fmt.Sprint("none ", err)}
	}
	return nil
}

// Rollback cannot resume a dropped replication.
func (c *Cutover) Rollback(ctx context.Context, env *steps.Env) error {
	return steps.NotReversible("the subscriptions and slots were dropped at the cut-over, so the replication cannot resume where it stopped; the cut-back gives the source its name back and lifts the quiesce")
}

// tableWrites reads every user table's write counters (inserts, updates, deletes) in each database
// of a server, as "db" → "schema.table" → [ins, upd, del].
func tableWrites(ctx context.Context, d dsn, dbs []string) (map[string]map[string][3]int64, error) {
	out := map[string]map[string][3]int64{}
	for _, db := range dbs {
		c, err := d.connect(ctx, db)
		if err != nil {
			return nil, err
		}
		out[db], err = writesOn(ctx, c, db)
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// writesOn reads the write counters of the database c is connected to (db), as "schema.table" →
// [ins, upd, del].
func writesOn(ctx context.Context, c *pgx.Conn, db string) (map[string][3]int64, error) {
	rows, err := c.Query(ctx, "SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables")
	if err != nil {
		return nil, fmt.Errorf("%s: read the write counters: %w", db, err)
	}
	defer rows.Close()
	m := map[string][3]int64{}
	for rows.Next() {
		var t string
		var w [3]int64
		if err := rows.Scan(&t, &w[0], &w[1], &w[2]); err != nil {
			return nil, err
		}
		m[t] = w
	}
	return m, rows.Err()
}
