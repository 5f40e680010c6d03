package pgdata_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// Every artifact the logical path trusts is bound to its source and its run. On the twin: a
// rehearsal on app-db (the demo data) leaves its globals and dump in a dump-dir; a run against
// another instance, other-db (an `app` database of another size), with the same dump-dir stops at
// the first step that reads the dump-dir — before any change — naming the stale files and the fix,
// and no kind takes them for its own or overwrites them (the look-alike case of pg-globals-dump,
// pg-dump, pg-stream-copy, pg-globals-restore, pg-restore and pg-verify-rows; pg-wal-check refuses a
// server other than the quiesced one). Moved aside, the run
// dumps its own source afresh. Then: a dump of the same source read before later writes (an older
// WAL position than the quiesce's) is not done; and pg-verify-rows fails when one row is missing on
// the target although the manifest was made to agree with the target.
func TestArtifactsAreBoundToTheirSourceAndRun(t *testing.T) {
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	ctx := context.Background()
	tw, err := twin.Start(ctx, twin.Options{Dir: testbed.TempDir(t), Speed: twin.SpeedFast, Seed: twin.SeedDemo, Rows: 300})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Close(context.Background()) })
	for _, kv := range tw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ep := tw.Endpoint()
	rdsc := awsrds.NewFromConfig(twin.AWSConfig(), func(o *awsrds.Options) { o.BaseEndpoint = &ep })
	reg := all.Registry()

	// other-db: the same master (so the demo secret logs in), an app database of another size
	const other, target = "other-db", "other-db-enc"
	for _, id := range []string{other, target} {
		newInstance(ctx, t, rdsc, id)
	}
	sqlExec(ctx, t, rdsc, other, "postgres", "CREATE DATABASE app")
	sqlExec(ctx, t, rdsc, other, "app", `CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY, note text);
		INSERT INTO shop.orders SELECT g, 'other ' || g FROM generate_series(1, 1600) g;
		CREATE TABLE shop.customers (id int PRIMARY KEY); INSERT INTO shop.customers SELECT generate_series(1, 40)`)
	if a, o := rowsOf(serverProbe(ctx, rdsc, twin.DemoInstance)(t), "app"), rowsOf(serverProbe(ctx, rdsc, other)(t), "app"); a == o {
		t.Fatalf("the two sources hold the same rows:\n%s", a)
	}

	dumpDir := filepath.Join(testbed.TempDir(t), "dump")
	dirProbe := func(t testing.TB) string { return listing(t, dumpDir) }
	source := func(inst string) string {
		return `source: { instance: "` + inst + `", credentials-secret: "${params.credentials-secret}" }` + "\n"
	}
	tgt := `target: { instance: "` + target + `", credentials-secret: "${params.credentials-secret}" }` + "\n"
	dir := `dir: "${params.dump-dir}"` + "\n"
	withRun := func(run string, vals map[string]string) *steps.Env {
		env := steptest.Env(t, vals)
		env.RunID = run
		return env
	}

	// The rehearsal: globals, quiesce and dump of app-db by run "rehearsal", as rds-encrypt does them.
	rehearsal := map[string]string{"credentials-secret": twin.DemoSecret, "dump-dir": dumpDir}
	for _, s := range []struct{ kind, with string }{
		{"pg-globals-dump", source(twin.DemoInstance) + `file: "${params.dump-dir}/globals.sql"`},
		{"pg-quiesce", source(twin.DemoInstance)},
		{"pg-dump", source(twin.DemoInstance) + dir + `quiesce: "${steps.quiesce.state}"`},
	} {
		out, err := steptest.Decode(t, reg, s.kind, s.with).Apply(ctx, withRun("rehearsal", rehearsal))
		if err != nil {
			t.Fatalf("rehearsal %s: %v", s.kind, err)
		}
		if s.kind == "pg-quiesce" {
			rehearsal["steps.quiesce.state"] = out["state"].Value
		}
	}
	if _, err := steptest.Decode(t, reg, "pg-quiesce", source(twin.DemoInstance)+"lift: true\n").Apply(ctx, withRun("rehearsal", rehearsal)); err != nil {
		t.Fatal(err)
	}
	appDB := resourceID(ctx, t, rdsc, twin.DemoInstance)
	otherDB := resourceID(ctx, t, rdsc, other)
	rehearsed := dirProbe(t)
	for _, f := range []string{"globals.sql", "cairn-manifest.json", "cairn-owner.json", "app.dir/toc.dat"} {
		if !strings.Contains(rehearsed, f+" ") && !strings.Contains(rehearsed, f+"\n") {
			t.Fatalf("the rehearsal left no %s in the dump-dir:\n%s", f, rehearsed)
		}
	}

	// The real run, against other-db, with the same dump-dir.
	vals := map[string]string{"credentials-secret": twin.DemoSecret, "dump-dir": dumpDir, "steps.preflight.resource-id": otherDB}
	blockedNaming := func(t *testing.T, ch steps.Check, path string) {
		t.Helper()
		if ch.State != steps.Blocked {
			t.Fatalf("a rehearsal's artifact in %s is %s (%s), want blocked", path, ch.State, ch.Reason)
		}
		for _, s := range []string{path, appDB} {
			if !strings.Contains(ch.Reason, s) {
				t.Errorf("the reason does not name %s: %s", s, ch.Reason)
			}
		}
		if !strings.Contains(ch.Fix, "move it aside") || !strings.Contains(ch.Fix, "dump-dir") {
			t.Errorf("the fix does not say to move it aside or give another dump-dir: %s", ch.Fix)
		}
	}
	unchanged := func(t *testing.T, kind string, err error) {
		t.Helper()
		if err == nil {
			t.Fatalf("%s applied over the rehearsal's files", kind)
		}
		if got := dirProbe(t); got != rehearsed {
			t.Fatalf("%s changed the rehearsal's files:\nbefore:\n%s\nafter:\n%s", kind, rehearsed, got)
		}
	}
	t.Run("look-alike: pg-globals-dump", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-globals-dump", source(other)+`file: "${params.dump-dir}/globals.sql"`)
		env := withRun("real", vals)
		blockedNaming(t, st.Check(ctx, env), filepath.Join(dumpDir, "globals.sql"))
		_, err := st.Apply(ctx, env)
		unchanged(t, "pg-globals-dump", err)
	})
	// The steps after the quiesce, were the run to get there (a plan, or the step run by hand).
	q, err := steptest.Decode(t, reg, "pg-quiesce", source(other)).Apply(ctx, withRun("real", vals))
	if err != nil {
		t.Fatal(err)
	}
	vals["steps.quiesce.state"] = q["state"].Value
	t.Run("look-alike: pg-dump", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-dump", source(other)+dir+`quiesce: "${steps.quiesce.state}"`)
		env := withRun("real", vals)
		blockedNaming(t, st.Check(ctx, env), dumpDir)
		_, err := st.Apply(ctx, env)
		unchanged(t, "pg-dump", err)
	})
	t.Run("look-alike: pg-stream-copy", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-stream-copy", source(other)+tgt+dir+`quiesce: "${steps.quiesce.state}"`)
		env := withRun("real", vals)
		blockedNaming(t, st.Check(ctx, env), dumpDir)
		_, err := st.Apply(ctx, env)
		unchanged(t, "pg-stream-copy", err)
	})
	for _, c := range []struct{ kind, with string }{
		{"pg-globals-restore", tgt + `file: "${params.dump-dir}/globals.sql"` + "\n" + `source-id: "${steps.preflight.resource-id}"`},
		{"pg-restore", tgt + dir + `source-id: "${steps.preflight.resource-id}"`},
	} {
		t.Run("look-alike: "+c.kind, func(t *testing.T) {
			st := steptest.Decode(t, reg, c.kind, c.with)
			env := withRun("real", vals)
			ch := st.Check(ctx, env)
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, otherDB) || !strings.Contains(ch.Reason, appDB) || !strings.Contains(ch.Fix, "move it aside") {
				t.Fatalf("the rehearsal's file for another source: %s (%s; fix: %s), want blocked naming both sources and the fix", ch.State, ch.Reason, ch.Fix)
			}
			_, err := st.Apply(ctx, env)
			unchanged(t, c.kind, err)
			if p := serverProbe(ctx, rdsc, target)(t); strings.Contains(p, "database app") || strings.Contains(p, "role app_") {
				t.Fatalf("%s put the rehearsal's data on the target:\n%s", c.kind, p)
			}
		})
	}
	t.Run("look-alike: pg-verify-rows", func(t *testing.T) {
		st := steptest.Decode(t, reg, "pg-verify-rows", source(other)+tgt+dir+`source-id: "${steps.preflight.resource-id}"`)
		if _, err := st.Apply(ctx, withRun("real", vals)); err == nil || !strings.Contains(err.Error(), appDB) {
			t.Fatalf("pg-verify-rows took the rehearsal's manifest: %v", err)
		}
	})

	t.Run("pg-wal-check refuses a source that is not the quiesced one", func(t *testing.T) {
		// the rehearsal's quiesce of app-db, checked against other-db (as after a name was reused)
		st := steptest.Decode(t, reg, "pg-wal-check", source(other)+`state: "${steps.quiesce.state}"`)
		_, err := st.Apply(ctx, withRun("rehearsal", rehearsal))
		if err == nil || !strings.Contains(err.Error(), "is not the server that was quiesced") || !strings.Contains(err.Error(), appDB) {
			t.Fatalf("pg-wal-check compared another server with the quiesce's record: %v", err)
		}
	})

	// Moved aside, as the fix says: the run dumps its own source afresh.
	if err := os.Rename(dumpDir, dumpDir+".old"); err != nil {
		t.Fatal(err)
	}
	dump := steptest.Decode(t, reg, "pg-dump", source(other)+dir+`quiesce: "${steps.quiesce.state}"`)
	env := withRun("real", vals)
	if ch := dump.Check(ctx, env); ch.State != steps.Ready {
		t.Fatalf("an empty dump-dir: %s (%s)", ch.State, ch.Reason)
	}
	if _, err := dump.Apply(ctx, env); err != nil {
		t.Fatal(err)
	}
	if ch := dump.Check(ctx, env); ch.State != steps.Done {
		t.Fatalf("after its own dump: %s (%s)", ch.State, ch.Reason)
	}
	m := manifestOf(t, dumpDir)
	if m.Provenance == nil || m.Provenance.Source.ResourceID != otherDB || m.Provenance.RunID != "real" || m.Databases[0].Rows["shop.orders"] != 1600 {
		t.Fatalf("the fresh dump is not other-db's: %+v %+v", m.Provenance, m.Databases)
	}
	if m.Provenance.Source.SystemID == "" && m.Provenance.Source.SystemIDNote == "" {
		t.Errorf("the manifest neither records the system identifier nor says why not: %+v", m.Provenance.Source)
	}

	t.Run("a dump read before later writes is not done", func(t *testing.T) {
		// the quiesce is lifted, the application writes, and the source is quiesced again: the
		// dump holds the same source's rows, but older than the new quiesce's WAL position
		lift := steptest.Decode(t, reg, "pg-quiesce", source(other)+"lift: true\n")
		if _, err := lift.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}
		sqlExec(ctx, t, rdsc, other, "app", "INSERT INTO shop.orders VALUES (1601, 'written after the dump')")
		q, err := steptest.Decode(t, reg, "pg-quiesce", source(other)).Apply(ctx, env)
		if err != nil {
			t.Fatal(err)
		}
		later := mergeVals(vals, map[string]string{"steps.quiesce.state": q["state"].Value})
		ch := dump.Check(ctx, withRun("real", later))
		if ch.State == steps.Done || !strings.Contains(ch.Reason, "before the quiesce") {
			t.Fatalf("a dump older than the quiesce: %s (%s), want not done, saying it was read before the quiesce", ch.State, ch.Reason)
		}
		if ch := dump.Check(ctx, withRun("next-day", later)); ch.State != steps.Blocked {
			t.Fatalf("another run's older dump of the same source: %s (%s), want blocked", ch.State, ch.Reason)
		}
		env = withRun("real", later)
		if _, err := dump.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}
		if ch := dump.Check(ctx, env); ch.State != steps.Done {
			t.Fatalf("dumped again after the quiesce: %s (%s)", ch.State, ch.Reason)
		}
		if n := manifestOf(t, dumpDir).Databases[0].Rows["shop.orders"]; n != 1601 {
			t.Fatalf("the new dump holds %d orders, want 1601", n)
		}
	})

	t.Run("look-alike: a database of the same name on the target is not this run's", func(t *testing.T) {
		sqlExec(ctx, t, rdsc, target, "postgres", "CREATE DATABASE app")
		sqlExec(ctx, t, rdsc, target, "app", "CREATE TABLE someone_elses (x int); INSERT INTO someone_elses VALUES (1)")
		defer sqlExec(ctx, t, rdsc, target, "postgres", "DROP DATABASE app")
		for _, st := range []steps.Step{
			steptest.Decode(t, reg, "pg-restore", tgt+dir+`source-id: "${steps.preflight.resource-id}"`),
			steptest.Decode(t, reg, "pg-stream-copy", source(other)+tgt+`dir: "${params.dump-dir}/stream"`+"\n"+`quiesce: "${steps.quiesce.state}"`),
		} {
			ch := st.Check(ctx, env)
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "this run did not create it") || ch.Fix == "" {
				t.Fatalf("%T: a database app on the target that this run did not make: %s (%s; fix: %s), want blocked", st, ch.State, ch.Reason, ch.Fix)
			}
			if _, err := st.Apply(ctx, env); err == nil {
				t.Fatalf("%T applied over someone else's database app", st)
			}
			if got := rowsOf(serverProbe(ctx, rdsc, target)(t), "app"); got != "app public.someone_elses rows 1" {
				t.Fatalf("%T changed someone else's database app:\n%s", st, got)
			}
		}
	})

	t.Run("pg-verify-rows counts the source, not only the manifest", func(t *testing.T) {
		restore := steptest.Decode(t, reg, "pg-restore", tgt+dir+`source-id: "${steps.preflight.resource-id}"`)
		if _, err := restore.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}
		verify := steptest.Decode(t, reg, "pg-verify-rows", source(other)+tgt+dir+`source-id: "${steps.preflight.resource-id}"`+"\nchecksums: \"true\"\n")
		if _, err := verify.Apply(ctx, env); err != nil {
			t.Fatalf("verify of a good restore: %v", err)
		}
		// one row goes missing on the target, and the manifest is made to agree with the target
		sqlExec(ctx, t, rdsc, target, "app", "DELETE FROM shop.orders WHERE id = 7")
		b, err := os.ReadFile(filepath.Join(dumpDir, "cairn-manifest.json"))
		if err != nil {
			t.Fatal(err)
		}
		var raw map[string]any
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		raw["databases"].([]any)[0].(map[string]any)["rows"].(map[string]any)["shop.orders"] = 1600
		if b, err = json.Marshal(raw); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dumpDir, "cairn-manifest.json"), b, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = verify.Apply(ctx, env)
		if err == nil {
			t.Fatal("pg-verify-rows passed with a row missing on the target (the manifest agreeing with the target)")
		}
		if !strings.Contains(err.Error(), "shop.orders: 1600 rows on the target, 1601 on the source") {
			t.Fatalf("the failure does not name the table and both counts: %v", err)
		}
	})
}

func newInstance(ctx context.Context, t testing.TB, rdsc *awsrds.Client, id string) {
	t.Helper()
	if _, err := rdsc.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
		EngineVersion: aws.String("15.18"), DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20),
		MasterUsername: aws.String(twin.DemoMaster), MasterUserPassword: aws.String("Cairn-initial-1")}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, rdsc, id)
	c := connectAs(ctx, t, rdsc, id, "postgres", "Cairn-initial-1")
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "ALTER ROLE "+twin.DemoMaster+" PASSWORD "+quote(twin.DemoPassword)); err != nil {
		t.Fatal(err)
	}
}

func manifestOf(t testing.TB, dir string) pgdata.Manifest {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "cairn-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m pgdata.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}
