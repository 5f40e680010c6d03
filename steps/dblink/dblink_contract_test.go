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
			t.Skip("known gap: Check reads the EXECUTE grants of connect_remote but not the privileges on allowed_secrets, " +
				"and Apply revokes them only from PUBLIC; delete this line once the kind checks and revokes them")
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = st.Rollback(context.Background(), env) })
			exec(t, c, "GRANT INSERT ON dblink_secret.allowed_secrets TO app_rw")
			if ch := st.Check(ctx, env); ch.State == steps.Done {
				t.Fatalf("app_rw may add secret ids to the allow-list, but check says done (%s)", ch.Reason)
			}
		})
	})
}
