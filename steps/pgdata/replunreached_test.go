package pgdata_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// A replicate rollback that cannot reach the target (renamed by hand, a wrong address) does not
// claim its subscriptions went with it: it drops this run's slots on the source, then fails with the
// statements to run on the target — and the subscription is indeed still there. Reached again, the
// rollback finishes the job.
func TestReplicateRollbackWithTheTargetUnreachableSaysWhatIsLeft(t *testing.T) {
	ctx := context.Background()
	src := testbed.Postgres(t, testbed.WithSettings(map[string]string{"wal_level": "logical"}))
	tgt := testbed.Postgres(t)
	src.Exec(t, "postgres", "CREATE DATABASE shop")
	src.Exec(t, "shop", "CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 50) g")
	reg := all.Registry()
	work := t.TempDir()
	env := func() *steps.Env {
		e := steptest.Env(t, nil)
		e.RunID, e.WorkDir, e.StepID = "20261204-230000.000-dddddd", work, "replicate"
		return e
	}
	source := `source: { conn: "` + src.ConnString("postgres", "postgres") + `" }` + "\n"
	rep := steptest.Decode(t, reg, "pg-replicate", source+`target: { conn: "`+tgt.ConnString("postgres", "postgres")+`" }`)
	if _, err := rep.Apply(ctx, env()); err != nil {
		t.Fatal(err)
	}
	subs := func() int64 { return tgt.QueryInt(t, "postgres", "SELECT count(*) FROM pg_subscription") }
	slots := func() int64 {
		return src.QueryInt(t, "postgres", "SELECT count(*) FROM pg_replication_slots WHERE slot_name LIKE 'cairn\\_%'")
	}
	if subs() != 1 || slots() != 1 {
		t.Fatalf("after the apply: %d subscriptions, %d slots", subs(), slots())
	}

	away := steptest.Decode(t, reg, "pg-replicate", source+`target: { conn: "host=127.0.0.1 port=1 user=postgres dbname=postgres connect_timeout=5" }`)
	err := away.Rollback(ctx, env())
	fix := steps.FixOf(err)
	if err == nil || !strings.Contains(err.Error(), "NOT dropped") {
		t.Fatalf("rollback with the target unreachable: %v — it claims the subscriptions are gone", err)
	}
	for _, want := range []string{"shop: ALTER SUBSCRIPTION", "DISABLE; ALTER SUBSCRIPTION", "SET (slot_name = NONE); DROP SUBSCRIPTION", `DROP DATABASE "shop";`} {
		if !strings.Contains(fix, want) {
			t.Errorf("the fix lacks %q: %s", want, fix)
		}
	}
	if subs() != 1 {
		t.Fatalf("the subscription is gone from the target (%d), so the test proves nothing", subs())
	}
	if n := slots(); n != 0 {
		t.Errorf("the rollback left %d of this run's slots on the source", n)
	}

	if err := rep.Rollback(ctx, env()); err != nil {
		t.Fatalf("rollback with the target reached again: %v", err)
	}
	if n := subs(); n != 0 {
		t.Errorf("%d subscriptions left on the target", n)
	}
	if n := tgt.QueryInt(t, "postgres", "SELECT count(*) FROM pg_database WHERE datname = 'shop'"); n != 0 {
		t.Error("the database this run created is left on the target")
	}
}
