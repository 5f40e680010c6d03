package dblink_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The database kinds of dblink-secret, pg-extension and dblink-secret-function, pass the step
// contract on the twin's app-db (a real PostgreSQL cluster), judged by the test's own SQL as the
// master user. Each works in its own database so neither sees the other's extensions.
func TestDatabaseKindsContractOnTheTwin(t *testing.T) {
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	testbed.Require(t, "root (the twin installs its aws_lambda stand-in into PostgreSQL's extension directory)", func() error {
		if u := os.Geteuid(); u != 0 {
			return fmt.Errorf("running as uid %d", u)
		}
		return nil
	})
	ctx := context.Background()
	tw, err := twin.Start(ctx, twin.Options{Dir: testbed.TempDir(t), Speed: twin.SpeedFast, Seed: twin.SeedDemo, Rows: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Close(context.Background()) })
	var ca string
	for _, kv := range tw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
		if k == "CAIRN_TWIN_CA_BUNDLE" {
			ca = v
		}
	}
	ep := tw.Endpoint()
	rdsc := awsrds.NewFromConfig(twin.AWSConfig(), func(o *awsrds.Options) { o.BaseEndpoint = &ep })
	is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
	if err != nil {
		t.Fatal(err)
	}
	port := aws.ToInt32(is.DBInstances[0].Endpoint.Port)
	// master opens the test's own connection to a database of app-db, as the master user.
	master := func(t testing.TB, db string) *pgx.Conn {
		t.Helper()
		cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s sslmode=verify-full sslrootcert=%s", port, db, ca))
		if err != nil {
			t.Fatal(err)
		}
		cfg.User, cfg.Password = twin.DemoMaster, twin.DemoPassword
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c
	}
	query := func(t testing.TB, c *pgx.Conn, sql string) string {
		t.Helper()
		var s string
		if err := c.QueryRow(ctx, sql).Scan(&s); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return s
	}
	exec := func(t testing.TB, c *pgx.Conn, sql string) {
		t.Helper()
		if _, err := c.Exec(ctx, sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	reg := all.Registry()

	t.Run("pg-extension", func(t *testing.T) {
		// The demo's app database already has pgcrypto and citext, created by the master user: rollback
		// must leave them.
		c := master(t, twin.DemoDatabase)
		st := steptest.Decode(t, reg, "pg-extension", `
region: "${params.region}"
instance: "${params.instance}"
credentials-secret: "${params.credentials-secret}"
database: "${params.database}"
extensions: [aws_lambda, dblink]
`)
		env := steptest.Env(t, map[string]string{"region": "", "instance": twin.DemoInstance, "credentials-secret": twin.DemoSecret, "database": twin.DemoDatabase})
		probe := func(t testing.TB) string {
			return query(t, c, `SELECT string_agg(extname || ' ' || extversion || ' ' || coalesce(obj_description(oid, 'pg_extension'), '-'), E'\n' ORDER BY extname) FROM pg_extension`)
		}
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, Tamper: func(t testing.TB) {
			exec(t, c, "DROP EXTENSION dblink")
		}})
	})

	t.Run("dblink-secret-function", func(t *testing.T) {
		// The extensions step ran before (here: the test makes them, in the postgres database).
		c := master(t, "postgres")
		exec(t, c, "CREATE EXTENSION aws_lambda CASCADE")
		exec(t, c, "CREATE EXTENSION dblink")
		st := steptest.Decode(t, reg, "dblink-secret-function", `
region: "${params.region}"
instance: "${params.instance}"
credentials-secret: "${params.credentials-secret}"
database: "${params.database}"
schema: "${params.schema}"
secrets: ["${params.secret}"]
function-arn: "${steps.preflight.function-arn}"
lambda-region: "${steps.preflight.region}"
ssl-root-cert: "${params.ssl-root-cert}"
grant-to: "${params.grant-to}"
`)
		env := steptest.Env(t, map[string]string{"region": "", "instance": twin.DemoInstance, "credentials-secret": twin.DemoSecret, "database": "postgres",
			"schema": "dblink_secret", "secret": "cairn/remote-db", "ssl-root-cert": ca, "grant-to": "app_rw, reporting",
			"steps.preflight.function-arn": "arn:aws:lambda:us-east-1:000000000000:function:cairn-dblink-secret",
			"steps.preflight.region":       "us-east-1"})
		probe := func(t testing.TB) string {
			if query(t, c, `SELECT coalesce(to_regnamespace('dblink_secret')::text, '-')`) == "-" {
				return "schema dblink_secret exists: false"
			}
			return query(t, c, `SELECT concat_ws(E'\n',
				'schema dblink_secret exists: true, comment ' || coalesce(obj_description('dblink_secret'::regnamespace, 'pg_namespace'), '-'),
				'schema acl ' || (SELECT coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'dblink_secret'),
				'tables ' || (SELECT coalesce(string_agg(relname || ' ' || coalesce(relacl::text, '-'), ', ' ORDER BY relname), '-')
				              FROM pg_class WHERE relnamespace = 'dblink_secret'::regnamespace),
				'allow-list ' || coalesce((SELECT string_agg(secret_id, ', ' ORDER BY secret_id) FROM dblink_secret.allowed_secrets), '-'),
				'functions ' || (SELECT coalesce(string_agg(p.oid::regprocedure::text || ' secdef ' || p.prosecdef || ' config ' || coalesce(p.proconfig::text, '-')
				                 || ' acl ' || coalesce(p.proacl::text, '-') || ' body md5 ' || md5(p.prosrc), ', '), '-')
				                 FROM pg_proc p WHERE p.pronamespace = 'dblink_secret'::regnamespace))`)
		}
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, Tamper: func(t testing.TB) {
			// Someone lets every role connect through connect_remote.
			exec(t, c, "GRANT EXECUTE ON FUNCTION dblink_secret.connect_remote(text, text) TO PUBLIC")
		}})

		// A grant-to role that may write the allow-list may connect with any secret id: Check must see it.
		t.Run("a grant on the allow-list is noticed", func(t *testing.T) {
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := st.Rollback(context.Background(), env); err != nil {
					t.Errorf("rollback: %v", err)
				}
			})
			// probeAll adds the column privileges, which the contract's probe does not show.
			probeAll := func(t testing.TB) string {
				return probe(t) + "\ncolumn acl " + query(t, c, `SELECT coalesce(string_agg(attname || ' ' || attacl::text, ', ' ORDER BY attname), '-')
					FROM pg_attribute WHERE attrelid = 'dblink_secret.allowed_secrets'::regclass AND attacl IS NOT NULL`)
			}
			clean := probeAll(t)
			exec(t, c, "GRANT INSERT ON dblink_secret.allowed_secrets TO app_rw")
			ch := st.Check(ctx, env)
			if ch.State == steps.Done {
				t.Fatalf("app_rw may add secret ids to the allow-list, but check says done (%s)", ch.Reason)
			}
			// The table and schema are cairn's, their whole ACL is the step's: ready, naming who holds what.
			if want := "app_rw holds INSERT on table dblink_secret.allowed_secrets"; ch.State != steps.Ready || !strings.Contains(ch.Reason, want) {
				t.Fatalf("want ready with a reason naming %q, got %+v", want, ch)
			}
			t.Logf("check: %s: %s", ch.State, ch.Reason)
			err := st.Verify(ctx, env)
			if err == nil || !strings.Contains(err.Error(), "app_rw holds INSERT") {
				t.Fatalf("verify: want a failure naming app_rw's INSERT, got %v", err)
			}
			t.Logf("verify: %v", err)

			// Every other way to write the allow-list or the schema is noticed too.
			for _, g := range []struct{ grant, want string }{
				{"GRANT UPDATE (secret_id) ON dblink_secret.allowed_secrets TO reporting", "reporting holds UPDATE on column dblink_secret.allowed_secrets.secret_id"},
				{"GRANT SELECT ON dblink_secret.allowed_secrets TO PUBLIC", "PUBLIC holds SELECT on table dblink_secret.allowed_secrets"},
				{"GRANT CREATE ON SCHEMA dblink_secret TO app_rw", "app_rw holds CREATE on schema dblink_secret"},
				{"GRANT USAGE ON SCHEMA dblink_secret TO reporting WITH GRANT OPTION", "reporting holds USAGE WITH GRANT OPTION on schema dblink_secret"},
				{"GRANT EXECUTE ON FUNCTION dblink_secret.connect_remote(text, text) TO app_rw WITH GRANT OPTION",
					"app_rw holds EXECUTE WITH GRANT OPTION on function dblink_secret.connect_remote(text, text)"},
			} {
				exec(t, c, g.grant)
				if ch := st.Check(ctx, env); ch.State != steps.Ready || !strings.Contains(ch.Reason, g.want) {
					t.Fatalf("after %s: want ready with a reason naming %q, got %+v", g.grant, g.want, ch)
				}
			}

			// Running the step again revokes them all, and leaves exactly what the first apply made.
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatalf("apply again: %v", err)
			}
			if err := st.Verify(ctx, env); err != nil {
				t.Fatalf("verify after the repair: %v", err)
			}
			if ch := st.Check(ctx, env); ch.State != steps.Done {
				t.Fatalf("check after the repair: want done, got %s (%s)", ch.State, ch.Reason)
			}
			if got := probeAll(t); got != clean {
				t.Fatalf("the repair did not restore the applied state:\nwant: %s\ngot:  %s", clean, got)
			}

			// A table handed to another role is not cairn's to take back: blocked, and apply changes nothing.
			// (ALTER … OWNER TO app_rw needs the master in app_rw, and app_rw allowed to CREATE in the schema.)
			exec(t, c, "GRANT app_rw TO "+twin.DemoMaster)
			t.Cleanup(func() { _, _ = c.Exec(context.Background(), "REVOKE app_rw FROM "+twin.DemoMaster) })
			exec(t, c, "GRANT CREATE ON SCHEMA dblink_secret TO app_rw")
			exec(t, c, "ALTER TABLE dblink_secret.allowed_secrets OWNER TO app_rw")
			exec(t, c, "REVOKE CREATE ON SCHEMA dblink_secret FROM app_rw")
			if ch := st.Check(ctx, env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "owned by app_rw") || ch.Fix == "" {
				t.Fatalf("allow-list owned by app_rw: want blocked naming the owner, with a fix, got %+v", ch)
			} else {
				t.Logf("check: %s: %s; fix: %s", ch.State, ch.Reason, ch.Fix)
			}
			if err := st.Verify(ctx, env); err == nil {
				t.Fatal("verify passed with the allow-list owned by app_rw")
			}
			handed := probeAll(t)
			if _, err := st.Apply(ctx, env); err == nil {
				t.Fatal("apply went ahead with the allow-list owned by app_rw")
			}
			if got := probeAll(t); got != handed {
				t.Fatalf("a refused apply changed the schema:\nbefore: %s\nafter:  %s", handed, got)
			}
		})
	})
}
