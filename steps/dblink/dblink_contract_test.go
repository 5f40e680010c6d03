package dblink_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The database kinds of dblink-secret, pg-extension and dblink-secret-function, pass the step
// contract on the twin's app-db (a real PostgreSQL cluster), judged by the test's own SQL as the
// master user. Each works in its own database so neither sees the other's extensions.
func TestDatabaseKindsContractOnTheTwin(t *testing.T) {
	ctx := context.Background()
	tw := startTwin(t)
	ca, master := tw.CABundle, tw.master
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
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
			What: "dblink's functions made by hand in public, without the extension",
			Plant: func(t testing.TB) {
				exec(t, c, `CREATE FUNCTION public.dblink_connect(text) RETURNS text LANGUAGE sql AS $$SELECT 'not dblink'$$`)
			},
			There: func(t testing.TB) bool {
				return query(t, c, `SELECT count(*)::text FROM pg_proc WHERE proname = 'dblink_connect' AND pronamespace = 'public'::regnamespace
					AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = pg_proc.oid AND d.deptype = 'e')`) == "1"
			},
			Remove: func(t testing.TB) { exec(t, c, "DROP FUNCTION public.dblink_connect(text)") },
		}, Tamper: func(t testing.TB) {
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
		// probe adds to the schema the owner role (its attributes, marker, memberships) and the ACLs of
		// aws_lambda and aws_commons, where the role's grants live.
		probe := func(t testing.TB) string {
			role := query(t, c, `SELECT concat_ws(E'\n',
				'owner role ' || coalesce((SELECT rolname || ' login=' || rolcanlogin || ' super=' || rolsuper || ' createrole=' || rolcreaterole
					|| ' comment ' || coalesce(shobj_description(oid, 'pg_authid'), '-')
					|| ' in ' || coalesce((SELECT string_agg(pg_get_userbyid(m.roleid), ',') FROM pg_auth_members m WHERE m.member = r.oid), '-')
					|| ' members ' || coalesce((SELECT string_agg(pg_get_userbyid(m.member), ',') FROM pg_auth_members m WHERE m.roleid = r.oid), '-')
					FROM pg_roles r WHERE rolname = 'dblink_secret_owner'), '-'),
				'aws ' || (SELECT string_agg(n.nspname || ' ' || coalesce(n.nspacl::text, '-') || ' ' ||
					coalesce((SELECT string_agg(p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '-'), ', ' ORDER BY p.oid::regprocedure::text)
					          FROM pg_proc p WHERE p.pronamespace = n.oid), '-'), '; ' ORDER BY n.nspname)
					FROM pg_namespace n WHERE n.nspname IN ('aws_lambda', 'aws_commons')))`)
			if query(t, c, `SELECT coalesce(to_regnamespace('dblink_secret')::text, '-')`) == "-" {
				return role + "\nschema dblink_secret exists: false"
			}
			return role + "\n" + query(t, c, `SELECT concat_ws(E'\n',
				'schema dblink_secret exists: true, comment ' || coalesce(obj_description('dblink_secret'::regnamespace, 'pg_namespace'), '-'),
				'schema acl ' || (SELECT coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'dblink_secret'),
				'tables ' || (SELECT coalesce(string_agg(relname || ' ' || coalesce(relacl::text, '-'), ', ' ORDER BY relname), '-')
				              FROM pg_class WHERE relnamespace = 'dblink_secret'::regnamespace),
				'allow-list ' || coalesce((SELECT string_agg(secret_id, ', ' ORDER BY secret_id) FROM dblink_secret.allowed_secrets), '-'),
				'functions ' || (SELECT coalesce(string_agg(p.oid::regprocedure::text || ' owner ' || pg_get_userbyid(p.proowner) || ' secdef ' || p.prosecdef
				                 || ' config ' || coalesce(p.proconfig::text, '-')
				                 || ' acl ' || coalesce(p.proacl::text, '-') || ' body md5 ' || md5(p.prosrc), ', '), '-')
				                 FROM pg_proc p WHERE p.pronamespace = 'dblink_secret'::regnamespace))`)
		}
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
			What: "a schema dblink_secret with an allow-list naming the secret and a function connect_remote(text, text), made by hand, not by cairn",
			Plant: func(t testing.TB) {
				exec(t, c, `CREATE SCHEMA dblink_secret; CREATE TABLE dblink_secret.allowed_secrets (secret_id text PRIMARY KEY);
					INSERT INTO dblink_secret.allowed_secrets VALUES ('cairn/remote-db'); CREATE FUNCTION dblink_secret.connect_remote(conn_name text, secret_id text) RETURNS text
					LANGUAGE sql SECURITY DEFINER AS $$SELECT 'not cairn''s'$$`)
			},
			There: func(t testing.TB) bool {
				return query(t, c, `SELECT count(*)::text FROM pg_proc WHERE oid = to_regprocedure('dblink_secret.connect_remote(text, text)')
					AND prosrc LIKE '%not cairn%'`) == "1"
			},
			Remove: func(t testing.TB) { exec(t, c, "DROP SCHEMA dblink_secret CASCADE") },
		}, Tamper: func(t testing.TB) {
			// Someone lets every role connect through connect_remote.
			exec(t, c, "GRANT EXECUTE ON FUNCTION dblink_secret.connect_remote(text, text) TO PUBLIC")
		}})

		// connect_remote runs as a NOLOGIN role made for it, which holds what the function calls and
		// nothing of the admin's; anything it gains behind cairn's back is noticed and taken away.
		t.Run("the owner is a NOLOGIN role holding only what connect_remote needs", func(t *testing.T) {
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := st.Rollback(context.Background(), env); err != nil {
					t.Errorf("rollback: %v", err)
				}
			})
			if got := query(t, c, `SELECT r.rolname || ' login=' || r.rolcanlogin || ' super=' || r.rolsuper FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner
				WHERE p.oid = 'dblink_secret.connect_remote(text,text)'::regprocedure`); got != "dblink_secret_owner login=false super=false" {
				t.Fatalf("connect_remote's owner: %s", got)
			}
			for _, q := range []struct{ sql, want string }{
				{`SELECT has_function_privilege('dblink_secret_owner', 'aws_lambda.invoke(aws_commons._lambda_function_arn_1, json, text, text, json, varchar)', 'EXECUTE')`, "true"},
				{`SELECT has_function_privilege('dblink_secret_owner', 'aws_commons.create_lambda_function_arn(text, text)', 'EXECUTE')`, "true"},
				{`SELECT has_function_privilege('dblink_secret_owner', 'dblink_connect(text, text)', 'EXECUTE')`, "true"},
				{`SELECT has_table_privilege('dblink_secret_owner', 'dblink_secret.allowed_secrets', 'SELECT')`, "true"},
				{`SELECT has_table_privilege('dblink_secret_owner', 'dblink_secret.allowed_secrets', 'INSERT, UPDATE, DELETE, TRUNCATE')`, "false"},
				{`SELECT has_schema_privilege('dblink_secret_owner', 'dblink_secret', 'CREATE')`, "false"},
				{`SELECT pg_has_role('dblink_secret_owner', current_user, 'MEMBER')`, "false"},
				{`SELECT pg_has_role('dblink_secret_owner', 'rds_superuser', 'MEMBER')`, "false"},
			} {
				if got := query(t, c, "SELECT ("+strings.TrimPrefix(q.sql, "SELECT ")+")::text"); got != q.want {
					t.Errorf("%s: %s, want %s", q.sql, got, q.want)
				}
			}
			clean := probe(t)
			for _, g := range []struct{ change, want string }{
				{"ALTER ROLE dblink_secret_owner LOGIN", "owner role dblink_secret_owner may log in"},
				{"ALTER FUNCTION dblink_secret.connect_remote(text, text) OWNER TO " + twin.DemoMaster, "connect_remote is owned by " + twin.DemoMaster + ", to be the NOLOGIN role dblink_secret_owner"},
				{"GRANT INSERT ON dblink_secret.allowed_secrets TO dblink_secret_owner", "dblink_secret_owner holds INSERT on table dblink_secret.allowed_secrets"},
				{"GRANT dblink_secret_owner TO reporting", "reporting is a member of owner role dblink_secret_owner"},
				{"REVOKE USAGE ON SCHEMA aws_lambda FROM dblink_secret_owner", "owner role dblink_secret_owner lacks USAGE on schema aws_lambda"},
			} {
				exec(t, c, g.change)
				if ch := st.Check(ctx, env); ch.State != steps.Ready || !strings.Contains(ch.Reason, g.want) {
					t.Fatalf("after %s: want ready naming %q, got %+v", g.change, g.want, ch)
				}
				if err := st.Verify(ctx, env); err == nil || !strings.Contains(err.Error(), g.want) {
					t.Fatalf("after %s: verify: want a failure naming %q, got %v", g.change, g.want, err)
				}
				if _, err := st.Apply(ctx, env); err != nil {
					t.Fatalf("after %s: apply: %v", g.change, err)
				}
				if ch := st.Check(ctx, env); ch.State != steps.Done {
					t.Fatalf("after %s and apply: want done, got %s (%s)", g.change, ch.State, ch.Reason)
				}
				if got := probe(t); got != clean {
					t.Fatalf("after %s: apply did not restore the applied state:\nwant: %s\ngot:  %s", g.change, clean, got)
				}
			}
		})

		// A role of the owner's name that cairn did not make is never taken over, nor dropped.
		t.Run("a foreign role of the owner's name", func(t *testing.T) {
			exec(t, c, "CREATE ROLE dblink_secret_owner LOGIN")
			t.Cleanup(func() { _, _ = c.Exec(context.Background(), "DROP ROLE dblink_secret_owner") })
			before := probe(t)
			if ch := st.Check(ctx, env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "role dblink_secret_owner exists and was not made by cairn") || !strings.Contains(ch.Fix, "-p owner-role=") {
				t.Fatalf("want blocked naming the foreign role, with the fix, got %+v", ch)
			}
			if _, err := st.Apply(ctx, env); err == nil {
				t.Fatal("apply went ahead with a foreign role of the owner's name")
			}
			if err := st.Rollback(ctx, env); err != nil {
				t.Fatalf("rollback: %v", err)
			}
			if got := probe(t); got != before {
				t.Fatalf("a refused apply or its rollback changed something:\nbefore: %s\nafter:  %s", before, got)
			}
		})

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
