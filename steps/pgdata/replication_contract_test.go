package pgdata_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The replicate strategy's PostgreSQL kinds — pg-replication-preflight, pg-replica-identity,
// pg-replicate, pg-replication-wait, pg-replication-compare and pg-replication-cutover — pass the
// step contract on two real PostgreSQL 15 servers (the source at wal_level=logical), in the
// runbook's order, each subtest starting from what the one before left; and the strategy's
// pitfalls each show their refusal or fix: a table without a key, a large object, a sequence
// advanced during the replication, a slot left by an abandoned run, a schema difference before the
// window, a row deleted on the target or a column added on the source after the comparison. Judged
// by the test's own probe (SQL as the superuser).
func TestReplicationKindsContract(t *testing.T) {
	ctx := context.Background()
	src := testbed.Postgres(t, testbed.WithSettings(map[string]string{"wal_level": "logical"}))
	tgt := testbed.Postgres(t)
	reg := all.Registry()
	src.Exec(t, "postgres", "CREATE DATABASE shop")
	src.Exec(t, "shop", `CREATE TABLE items (id bigserial PRIMARY KEY, name text NOT NULL);
		INSERT INTO items (name) SELECT 'item ' || g FROM generate_series(1, 500) g;
		CREATE TABLE audit (at timestamptz NOT NULL DEFAULT now(), what text);   -- no key
		INSERT INTO audit (what) SELECT 'seed ' || g FROM generate_series(1, 50) g;
		CREATE TABLE regions (id int PRIMARY KEY, name text NOT NULL);   -- nobody writes it
		INSERT INTO regions VALUES (1, 'north'), (2, 'east'), (3, 'south');
		CREATE SEQUENCE invoice_no START 100;
		CREATE SEQUENCE ahead START 1;
		SELECT lo_from_bytea(0, 'before the replication');`)

	const run = "20261204-160000.000-aaaaaa"
	vals := map[string]string{"src": src.ConnString("postgres", "postgres"), "tgt": tgt.ConnString("postgres", "postgres")}
	const both = "source: { conn: \"${params.src}\" }\ntarget: { conn: \"${params.tgt}\" }\n"
	env := func(t *testing.T) *steps.Env {
		e := steptest.Env(t, vals)
		e.RunID = run
		return e
	}
	// one work directory for the run, as the runner gives every step of it
	work := t.TempDir()
	runEnv := func(t *testing.T, id string) *steps.Env {
		e := env(t)
		e.WorkDir, e.StepID = work, id
		return e
	}
	probe := func(t testing.TB) string {
		var b strings.Builder
		for _, side := range []struct {
			name string
			pg   *testbed.PG
		}{{"source", src}, {"target", tgt}} {
			writeRows(t, &b, side.pg.Conn(t, "postgres", "postgres"), side.name,
				`SELECT 'slot ' || slot_name FROM pg_replication_slots UNION ALL SELECT 'db ' || datname FROM pg_database WHERE datname = 'shop' ORDER BY 1`)
			if side.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'") == 0 {
				continue
			}
			writeRows(t, &b, side.pg.Conn(t, "shop", "postgres"), side.name+" shop", `SELECT 'pub ' || pubname FROM pg_publication UNION ALL SELECT 'sub ' || subname FROM pg_subscription
				UNION ALL SELECT 'table ' || relname || ' identity ' || relreplident::text FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace ORDER BY 1`)
		}
		return b.String()
	}

	t.Run("pg-replication-preflight lists the table without a key and refuses an unlogged one", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-replication-preflight", both)
		e := env(t)
		out, err := st.Apply(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(out["no-identity"].List, ","); got != "shop:public.audit" {
			t.Errorf("tables without identity: %q, want shop:public.audit", got)
		}
		if out["large-objects"].Value != "1" || !strings.Contains(e.Out.(*steptest.Sink).Text(), "copies them at the cut-over") {
			t.Errorf("large objects: %q; output:\n%s", out["large-objects"].Value, e.Out.(*steptest.Sink).Text())
		}
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env(t), Probe: probe,
			NoLookAlike: "reads only: versions, tables, large objects and extensions, afresh every run"}, func(t testing.TB) {
			src.Exec(t, "shop", "CREATE UNLOGGED TABLE scratch (id int PRIMARY KEY); CREATE EXTENSION IF NOT EXISTS pg_trgm")
		})
		ch := st.Check(ctx, env(t))
		if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "scratch is UNLOGGED") || !strings.Contains(ch.Fix, "SET LOGGED") {
			t.Errorf("an unlogged table: %s %q fix %q", ch.State, ch.Reason, ch.Fix)
		}
		src.Exec(t, "shop", "DROP TABLE scratch; DROP EXTENSION pg_trgm")
		unlimited := steptest.Decode(t, reg, "pg-replication-preflight", both+"slot-wal-limit-mb: \"-1\"\n")
		if ch := unlimited.Check(ctx, env(t)); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "slot-wal-limit-mb: want a whole number of MB of 1 or more") || !strings.Contains(ch.Fix, "-p slot-wal-limit-mb=") {
			t.Errorf("slot-wal-limit-mb -1 (unlimited): %s %q fix %q", ch.State, ch.Reason, ch.Fix)
		}
	})

	// The apply fails half-way: database catalog (before shop by name) is published, created on the
	// target and subscribed — its slot on the source — before shop is refused for its keyless table.
	// The failure menu's roll back runs the step's Rollback on that partial state: no slot is left on
	// the source (a forgotten one keeps WAL until the disk fills), no publication, no database on the
	// target; a second Rollback changes nothing.
	t.Run("pg-replicate refuses while a table has no key, half-way, and its rollback undoes the half", func(t *testing.T) {
		before := probe(t)
		src.Exec(t, "postgres", "CREATE DATABASE catalog")
		defer src.Exec(t, "postgres", "DROP DATABASE catalog WITH (FORCE)") // the probe's connection may still be open
		src.Exec(t, "catalog", "CREATE TABLE books (id int PRIMARY KEY, title text); INSERT INTO books SELECT g, 'book ' || g FROM generate_series(1, 200) g")
		catalog := func() string {
			var b strings.Builder
			for _, q := range []struct {
				pg       *testbed.PG
				db, side string
				sql      string
			}{
				{src, "postgres", "source", "SELECT 'slot ' || slot_name FROM pg_replication_slots"},
				{src, "catalog", "source", "SELECT 'pub ' || pubname FROM pg_publication"},
				{tgt, "postgres", "target", "SELECT 'db ' || datname FROM pg_database WHERE datname = 'catalog'"},
			} {
				writeRows(t, &b, q.pg.Conn(t, q.db, "postgres"), q.side, q.sql+" ORDER BY 1")
			}
			return b.String()
		}
		st := steptest.Decode(t, reg, "pg-replicate", both)
		if _, err := st.Apply(ctx, runEnv(t, "replicate")); err == nil || !strings.Contains(err.Error(), "public.audit") || !strings.Contains(steps.FixOf(err), "REPLICA IDENTITY FULL") {
			t.Fatalf("replicate with a keyless table: %v (fix %q)", err, steps.FixOf(err))
		}
		half := catalog()
		for _, want := range []string{"source slot cairn_", "source pub cairn_", "target db catalog"} {
			if !strings.Contains(half, want) {
				t.Fatalf("the failed apply did not get half-way (no %q):\n%s", want, half)
			}
		}
		for i := range 2 {
			if err := st.Rollback(ctx, runEnv(t, "replicate")); err != nil {
				t.Fatalf("rollback %d of the half-applied replicate: %v", i+1, err)
			}
			if got := catalog(); got != "" {
				t.Fatalf("after rollback %d of the half-applied replicate:\n%s", i+1, got)
			}
		}
		if after := probe(t); after != before {
			t.Errorf("the rollback left shop otherwise than it found it:\nbefore: %s\nafter:  %s", before, after)
		}
	})

	t.Run("pg-replica-identity", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-replica-identity", "source: { conn: \"${params.src}\" }\n")
		e := runEnv(t, "identity")
		steptest.Run(t, steptest.Case{Step: st, Env: e, Probe: probe,
			LookAlike: &steptest.LookAlike{
				What:  "a table with a unique index on a NOT NULL column but no primary key (DEFAULT identity uses the primary key only)",
				Plant: func(t testing.TB) { src.Exec(t, "shop", "CREATE TABLE tags (id int NOT NULL UNIQUE, tag text)") },
				There: func(t testing.TB) bool {
					return src.QueryInt(t, "shop", "SELECT count(*) FROM pg_class WHERE relname = 'tags' AND relreplident = 'd'") == 1
				},
				Remove: func(t testing.TB) { src.Exec(t, "shop", "DROP TABLE tags") },
			},
			Tamper: func(t testing.TB) { src.Exec(t, "shop", "ALTER TABLE audit REPLICA IDENTITY DEFAULT") }})
		if _, err := st.Apply(ctx, e); err != nil {
			t.Fatal(err)
		}
	})

	rep := steptest.Decode(t, reg, "pg-replicate", both)
	t.Run("pg-replicate blocks on extensions the target lacks, every one, before it changes anything", func(t *testing.T) {
		gone, old := plantExtensions(t, src)
		pre := steptest.Decode(t, reg, "pg-replication-preflight", "source: { conn: \"${params.src}\" }\n")
		out, err := pre.Apply(ctx, env(t))
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Join(out["warnings"].List, "\n")
		for _, want := range []string{"must offer these extensions at the source's version or newer: " + gone + " 1.0, " + old + " 1.1",
			gone + " 1.0 is installed (in shop) but the source's own server no longer offers it", old + " is at 1.1 (in shop) while a new CREATE EXTENSION makes 1.0"} {
			if !strings.Contains(warned, want) {
				t.Errorf("the preflight's warnings lack %q:\n%s", want, warned)
			}
		}
		before := probe(t)
		ch := rep.Check(ctx, runEnv(t, "replicate"))
		t.Logf("blocked: %s — %s", ch.Reason, ch.Fix)
		for _, want := range []string{gone + " 1.0 (in shop): not offered at all", old + " 1.1 (in shop): offered only up to 1.0, older"} {
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, want) {
				t.Errorf("check: %s %q, want blocked naming %q", ch.State, ch.Reason, want)
			}
		}
		if !strings.Contains(ch.Fix, "offers no "+gone+": choose an engine version that has it") || !strings.Contains(ch.Fix, "or drop "+gone+" on the source") ||
			!strings.Contains(ch.Fix, "choose an engine version that has "+old+" 1.1 or newer") {
			t.Errorf("fix: %q", ch.Fix)
		}
		if _, err := rep.Apply(ctx, runEnv(t, "replicate")); err == nil || !strings.Contains(err.Error(), gone) || !strings.Contains(err.Error(), old) || !strings.Contains(err.Error(), "nothing was changed") || !steps.IsUnchanged(err) {
			t.Errorf("apply with extensions the target lacks: %v", err)
		}
		if after := probe(t); after != before {
			t.Errorf("the blocked replicate changed something:\nbefore: %s\nafter:  %s", before, after)
		}
		src.Exec(t, "shop", "DROP EXTENSION "+gone+"; DROP EXTENSION "+old)
		if ch := rep.Check(ctx, runEnv(t, "replicate")); ch.State == steps.Blocked {
			t.Errorf("the extensions dropped on the source: still blocked (%s)", ch.Reason)
		}
	})

	// an extension the source has at 1.1, not its server's default 1.0: the schema restore makes
	// 1.0 on the target, the replicate step updates it to the source's
	pinned := fmt.Sprintf("cairn_test_pinned_%d", os.Getpid())
	writeExtensions(t, src, map[string]string{
		pinned + ".control":       "default_version = '1.0'\nrelocatable = true\n",
		pinned + "--1.0.sql":      "-- a test extension with no objects\n",
		pinned + "--1.1.sql":      "-- a test extension with no objects\n",
		pinned + "--1.0--1.1.sql": "-- nothing to change\n",
	})
	src.Exec(t, "shop", "CREATE EXTENSION "+pinned+" VERSION '1.1'")
	t.Run("pg-replicate", func(t *testing.T) {
		const other = "cairn_20261203_090000_000_bbbbbb_1"
		steptest.Run(t, steptest.Case{Step: rep, Env: runEnv(t, "replicate"), Probe: probe,
			LookAlike: &steptest.LookAlike{
				What: "a slot of another cairn run on the source (an abandoned rehearsal's)",
				Plant: func(t testing.TB) {
					src.Exec(t, "shop", "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", other)
				},
				There: func(t testing.TB) bool {
					return src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1", other) == 1
				},
				Remove: func(t testing.TB) { src.Exec(t, "postgres", "SELECT pg_drop_replication_slot($1)", other) },
			},
			Tamper: func(t testing.TB) { tgt.Exec(t, "shop", "DROP SUBSCRIPTION "+subName(t, tgt)) }})
		// the tamper dropped the subscription (and its slot): the step's rollback cleans up, then
		// the replication the next steps use
		if err := rep.Rollback(ctx, runEnv(t, "replicate")); err != nil {
			t.Fatal(err)
		}
		if _, err := rep.Apply(ctx, runEnv(t, "replicate")); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := tgt.Conn(t, "shop", "postgres").QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = $1", pinned).Scan(&v); err != nil || v != "1.1" {
			t.Errorf("extension %s on the target: %q %v, want the source's 1.1 (not the default 1.0)", pinned, v, err)
		}
	})

	wait := steptest.Decode(t, reg, "pg-replication-wait", both+"max-lag: \"0\"\nslot-wal-limit-mb: \"64\"\n")
	t.Run("pg-replication-wait", func(t *testing.T) {
		steptest.RunReadOnly(t, steptest.Case{Step: wait, Env: runEnv(t, "sync"), Probe: probe,
			NoLookAlike: "reads only, live: this run's subscriptions (by name) on the target and slots on the source"}, nil)
		if n := tgt.QueryInt(t, "shop", "SELECT count(*) FROM items"); n != 500 {
			t.Fatalf("after the sync the target has %d items, want 500", n)
		}
	})

	t.Run("pg-replication-wait stops a stalled slot before slot-wal-limit-mb", func(t *testing.T) {
		var zero pgdata.ReplicationWait // a literal limit is checked at load
		if err := yaml.Unmarshal([]byte("slot-wal-limit-mb: \"0\"\n"), &zero); err != nil {
			t.Fatal(err)
		}
		if err := zero.Validate(); err == nil || !strings.Contains(err.Error(), "slot-wal-limit-mb") {
			t.Errorf("slot-wal-limit-mb 0: %v", err)
		}
		// a subscriber that stopped (disabled) while the source writes 2 MB of WAL; the limit 1 MB
		tiny := steptest.Decode(t, reg, "pg-replication-wait", both+"slot-wal-limit-mb: \"1\"\n")
		e := runEnv(t, "sync")
		if ch := tiny.Check(ctx, e); ch.State == steps.Blocked {
			t.Fatalf("a slot keeping less than 80 %% of 1 MB: blocked (%s)", ch.Reason)
		}
		tgt.Exec(t, "shop", "ALTER SUBSCRIPTION "+subName(t, tgt)+" DISABLE")
		src.Exec(t, "shop", "SELECT pg_logical_emit_message(false, 'cairn-test', repeat('x', 2000000)); SELECT pg_switch_wal()")
		before := probe(t)
		ch := tiny.Check(ctx, e)
		if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "of slot-wal-limit-mb 1 MB (max_slot_wal_keep_size)") ||
			!strings.Contains(ch.Fix, "`cairn rollback "+run+"`") || !strings.Contains(ch.Fix, "raise slot-wal-limit-mb") {
			t.Errorf("a stalled slot past 80 %% of its cap: %s %q fix %q", ch.State, ch.Reason, ch.Fix)
		}
		if _, err := tiny.Apply(ctx, e); err == nil || !strings.Contains(err.Error(), "slot-wal-limit-mb 1 MB") {
			t.Errorf("the wait with a stalled slot past 80 %% of its cap: %v", err)
		}
		t.Logf("blocked: %s — %s", ch.Reason, ch.Fix)
		if after := probe(t); after != before {
			t.Errorf("the stopped wait changed something:\nbefore: %s\nafter:  %s", before, after)
		}
		tgt.Exec(t, "shop", "ALTER SUBSCRIPTION "+subName(t, tgt)+" ENABLE")
		if _, err := wait.Apply(ctx, runEnv(t, "sync")); err != nil { // the subscriber back: the normal limit passes
			t.Fatal(err)
		}
	})

	cmp := steptest.Decode(t, reg, "pg-replication-compare", both+"checksums: \"true\"\n")
	compared := func(t *testing.T) {
		// the initial copy's workers have handed their counts over: what the comparison reads
		// is settled (a count still arriving would only make the cut-over recount that table)
		settled(t, tgt, map[string]int64{"items": 500, "audit": 50, "regions": 3})
		out, err := cmp.Apply(ctx, runEnv(t, "compare"))
		if err != nil {
			t.Fatal(err)
		}
		vals["steps.compare.baseline"] = out["baseline"].Value
	}
	t.Run("pg-replication-compare refuses a schema difference before the window", func(t *testing.T) {
		steptest.RunReadOnly(t, steptest.Case{Step: cmp, Env: runEnv(t, "compare"), Probe: probe,
			NoLookAlike: "reads afresh every run; its record is only a baseline, which the cut-over takes only when it is this run's and the servers' (the cut-over's tests below plant another run's)"},
			func(t testing.TB) { src.Exec(t, "shop", "ALTER TABLE regions ADD COLUMN note text") })
		_, err := cmp.Apply(ctx, runEnv(t, "compare"))
		if err == nil || !strings.Contains(err.Error(), "before the window") || !strings.Contains(err.Error(), "only on the source:") || !strings.Contains(err.Error(), "note text") {
			t.Fatalf("a column only on the source: %v", err)
		}
		src.Exec(t, "shop", "ALTER TABLE regions DROP COLUMN note")
		compared(t)
	})

	src.Exec(t, "postgres", "CREATE ROLE app_rw LOGIN")
	var quiesced string
	t.Run("the quiesce opens the window", func(t *testing.T) {
		q := steptest.Decode(t, reg, "pg-quiesce", "source: { conn: \"${params.src}\" }\n")
		out, err := q.Apply(ctx, runEnv(t, "quiesce"))
		if err != nil {
			t.Fatal(err)
		}
		quiesced = out["state"].Value
		vals["steps.quiesce.state"] = quiesced
	})

	cut := steptest.Decode(t, reg, "pg-replication-cutover", both+"checksums: \"true\"\nbaseline: \"${steps.compare.baseline}\"\n")
	t.Run("pg-replication-cutover recounts what moved since the comparison, and refuses a difference", func(t *testing.T) {
		enabled := func(t *testing.T) {
			if n := tgt.QueryInt(t, "shop", "SELECT count(*) FROM pg_subscription WHERE subenabled"); n != 1 {
				t.Errorf("after a refused cut-over %d subscriptions are enabled, want 1: the replication must go on", n)
			}
		}
		attempt := func(t *testing.T) (string, error) {
			quiet(t, tgt) // the test's own sessions are gone: the cut-over trusts the counters
			e := runEnv(t, "cutover")
			_, err := cut.Apply(ctx, e)
			enabled(t)
			return e.Out.(*steptest.Sink).Text(), err
		}
		// a row deleted on the target, in a table nobody writes on the source
		tgt.Exec(t, "shop", "DELETE FROM regions WHERE id = 3")
		const diff = "shop.public.regions: 2 rows on the target, 3 in the source snapshot"

		ours := vals["steps.compare.baseline"]
		other := runEnv(t, "compare-other")
		other.RunID = "20261203-090000.000-bbbbbb"
		o, err := cmp.Apply(ctx, other)
		if err != nil {
			t.Fatal(err)
		}
		vals["steps.compare.baseline"] = o["baseline"].Value
		out, err := attempt(t)
		if err == nil || !strings.Contains(err.Error(), diff) {
			t.Fatalf("a row deleted on the target, another run's comparison: %v", err)
		}
		if !strings.Contains(out, "rows: every table counted on both sides, 3 tables") || !strings.Contains(out, "not this run's") || !strings.Contains(out, "1 differences") || strings.Contains(out, "equal") {
			t.Errorf("another run's comparison was not refused as a baseline:\n%s", out)
		}

		vals["steps.compare.baseline"] = ours
		out, err = attempt(t)
		if err == nil || !strings.Contains(err.Error(), diff) || strings.Contains(err.Error(), "items") {
			t.Fatalf("a row deleted on the target after the comparison: %v", err)
		}
		if !strings.Contains(out, "rows: 1 of 3 tables written since the comparison at ") || !strings.Contains(out, "recounted on both sides (3 rows); 2 unchanged since, compared then — 1 differences") {
			t.Errorf("only regions moved since the comparison; the cut-over said:\n%s", out)
		}

		// the row back on the target; a column added on the source after the comparison
		tgt.Exec(t, "shop", "INSERT INTO regions VALUES (3, 'south')")
		src.Exec(t, "shop", "ALTER TABLE regions ADD COLUMN note text")
		out, err = attempt(t)
		if err == nil || !strings.Contains(err.Error(), "the schemas differ") || !strings.Contains(err.Error(), "note text") {
			t.Fatalf("a column added on the source after the comparison: %v\n%s", err, out)
		}
		src.Exec(t, "shop", "ALTER TABLE regions DROP COLUMN note")
	})

	t.Run("pg-replication-cutover", func(t *testing.T) {
		e := runEnv(t, "cutover")
		detached := func(t testing.TB) bool {
			return tgt.QueryInt(t, "shop", "SELECT count(*) FROM pg_subscription") == 0 &&
				src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots") == 0
		}
		steptest.Run(t, steptest.Case{Step: cut, Env: e, Probe: probe,
			LookAlike: &steptest.LookAlike{
				What: "the target's databases with no subscription of this run left and no cut-over of this run (dropped by hand)",
				Plant: func(t testing.TB) {
					if err := rep.Rollback(ctx, runEnv(t.(*testing.T), "replicate")); err != nil {
						t.Fatal(err)
					}
					if err := tgt.Cluster.Start(ctx); err != nil && !strings.Contains(err.Error(), "running") {
						t.Fatal(err)
					}
					tgt.Exec(t, "postgres", "CREATE DATABASE shop")
				},
				There: detached,
				Remove: func(t testing.TB) {
					tgt.Exec(t, "postgres", "DROP DATABASE shop WITH (FORCE)")
					if _, err := rep.Apply(ctx, runEnv(t.(*testing.T), "replicate")); err != nil {
						t.Fatal(err)
					}
					if _, err := wait.Apply(ctx, runEnv(t.(*testing.T), "sync")); err != nil {
						t.Fatal(err)
					}
					compared(t.(*testing.T)) // the new copy's baseline
					// writes during the replication: the keyless table's update and delete (they
					// fail on the source without a replica identity), rows, a sequence advanced, a
					// large object; and a target sequence already past the source's
					src.Exec(t, "shop", `UPDATE audit SET what = 'changed' WHERE what = 'seed 1';
						DELETE FROM audit WHERE what = 'seed 2';
						INSERT INTO items (name) SELECT 'late ' || g FROM generate_series(1, 20) g;
						SELECT setval('invoice_no', 4242);
						SELECT lo_from_bytea(0, 'written during the replication');`)
					tgt.Exec(t, "shop", "SELECT setval('ahead', 9000)")
				},
			}})
		if got := src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots"); got != 0 {
			t.Errorf("%d slots left on the source after the cut-over", got)
		}
		for _, q := range []string{"SELECT count(*) FROM items", "SELECT count(*) FROM audit WHERE what = 'changed'", "SELECT count(*) FROM audit",
			"SELECT count(*) FROM pg_largeobject_metadata", "SELECT sum(length(lo_get(oid))) FROM pg_largeobject_metadata"} {
			if s, g := src.QueryInt(t, "shop", q), tgt.QueryInt(t, "shop", q); s != g {
				t.Errorf("%s: source %d, target %d", q, s, g)
			}
		}
		if n := tgt.QueryInt(t, "shop", "SELECT count(*) FROM items"); n != 520 {
			t.Errorf("target items %d, want 520", n)
		}
		if got := tgt.QueryInt(t, "shop", "SELECT nextval('invoice_no')"); got != 4243 {
			t.Errorf("the sequence advanced on the source to 4242: the target's next value is %d, want 4243", got)
		}
		if got := tgt.QueryInt(t, "shop", "SELECT last_value FROM ahead"); got != 9000 {
			t.Errorf("a target sequence ahead of the source's was moved back to %d", got)
		}
		if got := tgt.QueryInt(t, "shop", "SELECT nextval('items_id_seq')"); got != 521 {
			t.Errorf("items' sequence on the target gives %d next, want 521", got)
		}
	})

	var cutWrites string
	t.Run("pg-downtime and pg-lost-writes", func(t *testing.T) {
		out, err := cut.(steps.Observer).Observe(ctx, runEnv(t, "cutover"))
		if err != nil || out["lsn"].Value == "" || out["target-writes"].Value == "" {
			t.Fatalf("observe the cut-over: %v %v", out, err)
		}
		// the cut-over's own output, as the runbook passes it to the cut-back
		w, err := cut.Apply(ctx, runEnv(t, "cutover"))
		if err != nil {
			t.Fatal(err)
		}
		cutWrites = w["target-writes"].Value
		vals["steps.cutover.target-writes"] = cutWrites
		dt := steptest.Decode(t, reg, "pg-downtime", "server: { conn: \"${params.tgt}\" }\nquiesce: \"${steps.quiesce.state}\"\n")
		e := runEnv(t, "downtime")
		steptest.RunReadOnly(t, steptest.Case{Step: dt, Env: e, Probe: probe,
			NoLookAlike: "reads live: the server under the name counts only when its identity is not the quiesced source's"}, nil)
		got, err := dt.Apply(ctx, e)
		if err != nil || got["seconds"].Value == "" || strings.HasPrefix(got["seconds"].Value, "-") {
			t.Fatalf("downtime: %v %v", got, err)
		}
		// the source itself under the name is not the new instance: the wait goes on
		onSource := steptest.Decode(t, reg, "pg-downtime", "server: { conn: \"${params.src}\" }\nquiesce: \"${steps.quiesce.state}\"\n")
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if out, err := onSource.Apply(short, runEnv(t, "downtime")); err == nil {
			t.Fatalf("the quiesced source answering under the name ended the downtime: %v", out)
		}

		lw := steptest.Decode(t, reg, "pg-lost-writes", "server: { conn: \"${params.tgt}\" }\nquiesce: \"${steps.quiesce.state}\"\nwrites: \"${steps.cutover.target-writes}\"\n")
		tgt.Exec(t, "shop", "INSERT INTO items (name) VALUES ('after the swap 1'), ('after the swap 2'); DELETE FROM audit WHERE what = 'seed 3'")
		steptest.RunReadOnly(t, steptest.Case{Step: lw, Env: runEnv(t, "lost"), Probe: probe,
			NoLookAlike: "reads live: the new instance's write counters against the cut-over's"}, nil)
		var lost []string
		for range 50 { // the writer's statistics reach pg_stat_user_tables within a second
			out, err := lw.Apply(ctx, runEnv(t, "lost"))
			if err != nil {
				t.Fatal(err)
			}
			if lost = out["lost"].List; len(lost) == 2 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if strings.Join(lost, "; ") != "shop.public.audit: 0 inserted, 0 updated, 1 deleted; shop.public.items: 2 inserted, 0 updated, 0 deleted" {
			t.Errorf("lost writes: %q", lost)
		}
		// cutover=external: those writes on the new instance, after the cut-over's counters, end the
		// wait for the first write
		first := steptest.Decode(t, reg, "pg-downtime", "server: { conn: \"${params.tgt}\" }\nquiesce: \"${steps.quiesce.state}\"\nwait: first-write\nwrites: \"${steps.cutover.target-writes}\"\n")
		short2, cancel2 := context.WithTimeout(ctx, time.Minute)
		defer cancel2()
		if got, err := first.Apply(short2, runEnv(t, "downtime")); err != nil || got["seconds"].Value == "" {
			t.Errorf("first-write downtime: %v %v", got, err)
		}
	})

	// A SIGKILL of the runner inside the cut-over, then `cairn resume`: the re-run finds the work
	// where it stopped. Two databases replicated; a subscription dropped by hand blocks; one dropped
	// by the cut-over itself after its record (its slot still on the source, never advancing) is not
	// waited for — the re-run proves the other, drops what is left, and completes. A hang fails by
	// the context's deadline.
	t.Run("pg-replication-cutover resumed after a kill between two databases' drops", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
		defer cancel()
		record := filepath.Join(work, "pgdata-cutover-cutover.json")
		replicated := func(t *testing.T) {
			if err := os.Remove(record); err != nil && !os.IsNotExist(err) { // a new replication: no cut-over of it yet
				t.Fatal(err)
			}
			if _, err := rep.Apply(ctx, runEnv(t, "replicate")); err != nil {
				t.Fatal(err)
			}
			if _, err := wait.Apply(ctx, runEnv(t, "sync")); err != nil {
				t.Fatal(err)
			}
		}
		tgt.Exec(t, "postgres", "DROP DATABASE shop WITH (FORCE)")
		src.Exec(t, "postgres", "CREATE DATABASE depot")
		defer func() {
			tgt.Exec(t, "postgres", "DROP DATABASE IF EXISTS depot WITH (FORCE)")
			src.Exec(t, "postgres", "DROP DATABASE depot WITH (FORCE)")
		}()
		src.Exec(t, "depot", "CREATE TABLE bins (id int PRIMARY KEY); INSERT INTO bins SELECT generate_series(1, 40)")
		replicated(t)
		subs := func(t testing.TB, db string) int64 {
			return tgt.QueryInt(t, db, "SELECT count(*) FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = current_database())")
		}
		depotSlots := func(t testing.TB) int64 {
			return src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots WHERE database = 'depot'")
		}

		// by hand, without this run's record: blocked, nothing dropped
		var depotSub string
		dc := tgt.Conn(t, "depot", "postgres")
		err := dc.QueryRow(ctx, "SELECT subname FROM pg_subscription WHERE subdbid = (SELECT oid FROM pg_database WHERE datname = 'depot')").Scan(&depotSub)
		dc.Close(ctx) // the cut-over trusts the counters only with no session but cairn's on the target
		if err != nil {
			t.Fatal(err)
		}
		tgt.Exec(t, "depot", "ALTER SUBSCRIPTION "+depotSub+" DISABLE; ALTER SUBSCRIPTION "+depotSub+" SET (slot_name = NONE); DROP SUBSCRIPTION "+depotSub)
		e := runEnv(t, "cutover")
		if ch := cut.Check(ctx, e); ch.State != steps.Blocked || !strings.Contains(ch.Reason, depotSub+" (depot)") || !strings.Contains(ch.Fix, "cairn rollback") {
			t.Errorf("a subscription dropped by hand: %s %q fix %q", ch.State, ch.Reason, ch.Fix)
		}
		if _, err := cut.Apply(ctx, e); err == nil || !strings.Contains(err.Error(), "did not prove") {
			t.Errorf("the cut-over with a subscription dropped by hand: %v", err)
		}
		if subs(t, "shop") != 1 || depotSlots(t) != 1 {
			t.Errorf("the blocked cut-over dropped something: %d subscriptions in shop, %d slots of depot", subs(t, "shop"), depotSlots(t))
		}
		// made again by hand, on its slot left on the source: the replication as it was
		tgt.Exec(t, "depot", fmt.Sprintf("CREATE SUBSCRIPTION %s CONNECTION %s PUBLICATION %s WITH (create_slot = false, slot_name = %s, copy_data = false)",
			depotSub, "'"+strings.ReplaceAll(src.ConnString("depot", "postgres"), "'", "''")+"'", depotSub[:strings.LastIndex(depotSub, "_")], depotSub))

		// killed after the record, depot's subscription dropped (its slot left on the source)
		quiet(t, tgt)
		if err := pgdata.CutoverKilledAfterRecord(ctx, cut, runEnv(t, "cutover"), "depot"); err != nil {
			t.Fatal(err)
		}
		if subs(t, "depot") != 0 || subs(t, "shop") != 1 || depotSlots(t) != 1 {
			t.Fatalf("the kill point: %d subscriptions in depot, %d in shop, %d slots of depot; want 0, 1, 1", subs(t, "depot"), subs(t, "shop"), depotSlots(t))
		}
		// the source's WAL moves past depot's slot (a write in shop, which its live subscription carries)
		src.Exec(t, "shop", "INSERT INTO items (name) SELECT 'resumed ' || g FROM generate_series(1, 5) g")
		e = runEnv(t, "cutover")
		if ch := cut.Check(ctx, e); ch.State != steps.Ready || !strings.Contains(ch.Reason, "depot proven by this run's record") {
			t.Errorf("check after the kill: %s %q", ch.State, ch.Reason)
		}
		quiet(t, tgt)
		out, err := cut.Apply(ctx, e)
		if err != nil {
			t.Fatalf("the resumed cut-over: %v\n%s", err, e.Out.(*steptest.Sink).Text())
		}
		if err := cut.Verify(ctx, e); err != nil {
			t.Error(err)
		}
		if n := src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots"); n != 0 || subs(t, "shop") != 0 {
			t.Errorf("after the resumed cut-over: %d slots on the source (depot's left by the kill), %d subscriptions in shop", n, subs(t, "shop"))
		}
		if s, g := src.QueryInt(t, "shop", "SELECT count(*) FROM items"), tgt.QueryInt(t, "shop", "SELECT count(*) FROM items"); s != g {
			t.Errorf("items: source %d, target %d", s, g)
		}
		if !strings.Contains(out["counts"].Value, `"depot":{"public.bins":40}`) {
			t.Errorf("the record lost depot's counts: %s", out["counts"].Value)
		}
		if ch := cut.Check(ctx, runEnv(t, "cutover")); ch.State != steps.Done {
			t.Errorf("check after the resumed cut-over: %s %q", ch.State, ch.Reason)
		}
	})

	t.Run("a slot left by an abandoned run is dropped by its rollback, the target gone", func(t *testing.T) {
		tgt.Exec(t, "postgres", "DROP DATABASE shop WITH (FORCE)")
		if _, err := rep.Apply(ctx, runEnv(t, "replicate")); err != nil {
			t.Fatal(err)
		}
		if n := src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cairn\\_%'"); n != 1 {
			t.Fatalf("%d cairn slots on the source, want 1", n)
		}
		if err := tgt.Cluster.Stop(ctx); err != nil { // the run is abandoned and its target is gone
			t.Fatal(err)
		}
		defer tgt.Cluster.Start(ctx)
		if ch := rep.Check(ctx, runEnv(t, "other")); ch.State != steps.Unknown && ch.State != steps.Blocked {
			t.Errorf("check with the target down: %s", ch.State)
		}
		e := runEnv(t, "replicate")
		e.RunID = "20261205-010000.000-cccccc" // a later run sees the abandoned one's slot
		if ch := rep.Check(ctx, e); ch.State == steps.Done || ch.State == steps.Ready {
			t.Errorf("another run's slot on the source: check says %s (%s)", ch.State, ch.Reason)
		}
		// the cut-back's kind drops the abandoned run's slot (a later run's slot stays)
		src.Exec(t, "postgres", "SELECT pg_create_logical_replication_slot('cairn_20261205_010000_000_cccccc_1', 'pgoutput')")
		drop := steptest.Decode(t, reg, "pg-replication-drop", both)
		srcSlots := func(t testing.TB) string { // the target is down: the source's slots and publications
			return fmt.Sprint(src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots"), " slots, ",
				src.QueryInt(t, "shop", "SELECT count(*) FROM pg_publication"), " publications")
		}
		steptest.Run(t, steptest.Case{Step: drop, Env: runEnv(t, "cut-drop"), Probe: srcSlots,
			NoLookAlike: "it only removes: its done is the absence of this run's slots, and another run's slot (planted above) is never touched"})
		src.Exec(t, "postgres", "SELECT pg_drop_replication_slot('cairn_20261205_010000_000_cccccc_1')")
		if n := src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots"); n != 0 {
			t.Errorf("the abandoned run's rollback left %d slots on the source", n)
		}
	})
}

func subName(t testing.TB, pg *testbed.PG) string {
	var n string
	c := pg.Conn(t, "shop", "postgres")
	if err := c.QueryRow(context.Background(), "SELECT subname FROM pg_subscription").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// plantExtensions makes the source have two extensions the target does not offer as the source has
// them. Both servers are one PostgreSQL build reading one extension directory, so the difference is
// planted the way it arises: the source installs gone 1.0 and old 1.1, then the directory loses gone's
// files and old's 1.1 script — as a target whose engine version lacks gone and has only old 1.0
// offers them. The files are removed when the test ends.
func plantExtensions(t *testing.T, pg *testbed.PG) (gone, old string) {
	gone, old = fmt.Sprintf("cairn_test_gone_%d", os.Getpid()), fmt.Sprintf("cairn_test_old_%d", os.Getpid())
	dir := writeExtensions(t, pg, map[string]string{
		gone + ".control":  "default_version = '1.0'\nrelocatable = true\n",
		gone + "--1.0.sql": "-- a test extension with no objects\n",
		old + ".control":   "default_version = '1.1'\nrelocatable = true\n",
		old + "--1.0.sql":  "-- a test extension with no objects\n",
		old + "--1.1.sql":  "-- a test extension with no objects\n",
	})
	pg.Exec(t, "shop", "CREATE EXTENSION "+gone+"; CREATE EXTENSION "+old)
	for _, name := range []string{gone + ".control", gone + "--1.0.sql", old + "--1.1.sql"} {
		if err := os.Remove(filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, old+".control"), []byte("default_version = '1.0'\nrelocatable = true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return gone, old
}

// writeExtensions writes extension files into the extension directory of pg's PostgreSQL build
// (shared by every server of that build), removed when t ends; it returns the directory.
func writeExtensions(t testing.TB, pg *testbed.PG, files map[string]string) string {
	out, err := exec.Command(pg.Cluster.BinPath("pg_config"), "--sharedir").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(strings.TrimSpace(string(out)), "extension")
	for name, text := range files {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Skipf("cannot plant a test extension in %s: %v", dir, err)
		}
		t.Cleanup(func() { os.Remove(p) })
	}
	return dir
}

// settled waits until the target's statistics count the rows its initial copy inserted (the copy's
// workers hand them over as they exit).
func settled(t *testing.T, pg *testbed.PG, rows map[string]int64) {
	t.Helper()
	for range 200 {
		ok := true
		for tbl, n := range rows {
			ok = ok && pg.QueryInt(t, "shop", "SELECT coalesce(max(n_tup_ins), 0) FROM pg_stat_user_tables WHERE relname = $1", tbl) >= n
		}
		if ok {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the target's statistics never counted the initial copy %v", rows)
}

// quiet waits until no client session but cairn's is connected to pg.
func quiet(t *testing.T, pg *testbed.PG) {
	t.Helper()
	for range 200 {
		if pg.QueryInt(t, "postgres", `SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend'
			AND pid <> pg_backend_pid() AND coalesce(application_name, '') <> 'cairn'`) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("sessions other than cairn's stay connected to the target")
}

// writeRows writes each row of sql (one text column), after prefix, a line each.
func writeRows(t testing.TB, b *strings.Builder, c *pgx.Conn, prefix, sql string) {
	t.Helper()
	rows, err := c.Query(context.Background(), sql)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var s string
		_ = rows.Scan(&s)
		fmt.Fprintf(b, "%s %s\n", prefix, s)
	}
}
