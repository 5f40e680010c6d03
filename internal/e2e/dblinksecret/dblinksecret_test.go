// Package dblinksecret drives the dblink-secret runbook through the cairn binary on the twin: two
// instances, a remote password holding ", ', \ and a space, the Lambda function really running under
// the twin's Runtime API and RDS's aws_lambda stand-in calling it.
package dblinksecret

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	twinsrv "github.com/cairn-runbooks/cairn/internal/twin"
)

const (
	masterUser = "appmaster"
	masterPW   = "Master-pw-1234"
	remotePW   = `pa"ss 'w\rd x1`
	rotatedPW  = `r0t "new' \\ pw 2`
	wrongPW    = `wr0ng "pw' \ nope`
)

type bed struct {
	t      *testing.T
	twin   *testbed.TwinProc
	bin    string
	state  string
	env    []string
	ca     string
	aws    aws.Config
	ports  map[string]int
	logs   []string // server logs of the instances
	remote string   // secret holding the remote's connection
}

// ensureBundle builds the Lambda zip for this machine when this checkout has none yet, before the
// cairn binary (which embeds it) is built.
func ensureBundle(t *testing.T) {
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(root, "steps/lambda/bundle/cairn-secret-lambda-"+arch+".zip")
	if _, err := os.Stat(zip); err == nil {
		return
	}
	out, err := exec.Command(filepath.Join(root, "scripts/build-lambda.sh"), arch).CombinedOutput()
	if err != nil {
		t.Fatalf("scripts/build-lambda.sh %s: %v\n%s", arch, err, out)
	}
}

func newBed(t *testing.T) *bed {
	if os.Geteuid() != 0 {
		t.Skip("the twin installs its aws_lambda stand-in into PostgreSQL's extension directory: run as root")
	}
	ensureBundle(t)
	b := &bed{t: t, bin: testbed.CairnBinary(t), state: filepath.Join(testbed.TempDir(t), "state"), ports: map[string]int{}}
	b.twin = testbed.Twin(t, testbed.TwinOptions{})
	b.ca = b.twin.Lookup("CAIRN_TWIN_CA_BUNDLE")
	if b.ca == "" {
		t.Fatal("the twin gave no CAIRN_TWIN_CA_BUNDLE")
	}
	b.env = append(append(os.Environ(), b.twin.Env...), "CAIRN_STATE_DIR="+b.state, "PGSSLMODE=verify-full", "PGSSLROOTCERT="+b.ca)
	for _, kv := range b.twin.Env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	var err error
	if b.aws, err = config.LoadDefaultConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *bed) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	b.t.Cleanup(cancel)
	return ctx
}

// instance creates an instance and waits until it answers.
func (b *bed) instance(id string) {
	b.t.Helper()
	ctx := b.ctx()
	c := rds.NewFromConfig(b.aws)
	if _, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: &id, Engine: aws.String("postgres"),
		DBInstanceClass: aws.String("db.t4g.micro"), MasterUsername: aws.String(masterUser), MasterUserPassword: aws.String(masterPW)}); err != nil {
		b.t.Fatalf("create %s: %v", id, err)
	}
	for {
		out, err := c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
		if err == nil && aws.ToString(out.DBInstances[0].DBInstanceStatus) == "available" {
			b.ports[id] = int(aws.ToInt32(out.DBInstances[0].Endpoint.Port))
			break
		}
		if ctx.Err() != nil {
			b.t.Fatalf("instance %s not available: %v", id, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	logs, _ := filepath.Glob(filepath.Join(b.twin.Dir, "pg", "*", "postgres.log"))
	b.logs = logs
}

// conn logs in over TCP with TLS verified against the twin's CA.
func (b *bed) conn(id, user, pw string) *pgx.Conn {
	b.t.Helper()
	c, err := b.tryConn(id, user, pw)
	if err != nil {
		b.t.Fatalf("connect to %s as %s: %v", id, user, err)
	}
	b.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func (b *bed) tryConn(id, user, pw string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres sslmode=verify-full sslrootcert=%s", b.ports[id], b.ca))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = user, pw
	return pgx.ConnectConfig(b.ctx(), cfg)
}

// superuser connects as rdsadmin over the cluster's socket (what only the twin's operator can do).
func (b *bed) superuser(id string) *pgx.Conn {
	b.t.Helper()
	out, err := rds.NewFromConfig(b.aws).DescribeDBInstances(b.ctx(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		b.t.Fatal(err)
	}
	dsn, err := twinsrv.SuperuserConnString(b.twin.Dir, aws.ToString(out.DBInstances[0].DbiResourceId), "postgres")
	if err != nil {
		b.t.Fatal(err)
	}
	c, err := pgx.Connect(b.ctx(), dsn)
	if err != nil {
		b.t.Fatal(err)
	}
	b.t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func exec1(t *testing.T, c *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func (b *bed) secret(name string, v any) {
	b.t.Helper()
	s, ok := v.(string)
	if !ok {
		raw, _ := json.Marshal(v)
		s = string(raw)
	}
	if _, err := secretsmanager.NewFromConfig(b.aws).CreateSecret(b.ctx(), &secretsmanager.CreateSecretInput{Name: &name, SecretString: &s}); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bed) cairn(args ...string) (string, int) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = b.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return out.String(), ee.ExitCode()
	}
	if err != nil {
		b.t.Fatal(err)
	}
	return out.String(), 0
}

func verifier(t *testing.T, pw string) string {
	v, err := ref.ScramVerifier(pw)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func jsonQuoted(s string) string {
	b, _ := json.Marshal(s)
	return strings.Trim(string(b), `"`)
}

// longestPlainRun is the longest part of s without quote characters or backslashes.
func longestPlainRun(s string) string {
	best := ""
	for _, part := range strings.FieldsFunc(s, func(r rune) bool { return r == '"' || r == '\'' || r == '\\' }) {
		if len(part) > len(best) {
			best = part
		}
	}
	return best
}

func quoteLit(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

func sqlState(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestDblinkSecretOnTheTwin(t *testing.T) {
	b := newBed(t)
	b.instance("app-db")
	b.instance("remote-db")

	// Both servers log every statement.
	for _, id := range []string{"app-db", "remote-db"} {
		su := b.superuser(id)
		exec1(t, su, "ALTER SYSTEM SET log_statement = 'all'")
		exec1(t, su, "ALTER SYSTEM SET log_min_error_statement = 'error'")
		exec1(t, su, "SELECT pg_reload_conf()")
	}

	// The remote: an application role whose password holds " ' \ and a space, and rows to read.
	rm := b.conn("remote-db", masterUser, masterPW)
	// Passwords are set as SCRAM verifiers, so the test's own statements cannot put them in a log.
	exec1(t, rm, "CREATE ROLE remote_app LOGIN PASSWORD "+quoteLit(verifier(t, remotePW)))
	exec1(t, rm, "CREATE SCHEMA app")
	exec1(t, rm, "CREATE TABLE app.items (id int PRIMARY KEY, name text)")
	exec1(t, rm, "INSERT INTO app.items SELECT g, 'item ' || g FROM generate_series(1, 42) g")
	exec1(t, rm, "GRANT USAGE ON SCHEMA app TO remote_app")
	exec1(t, rm, "GRANT SELECT ON app.items TO remote_app")
	b.remote = "cairn/remote-db/app"
	b.secret(b.remote, map[string]any{"username": "remote_app", "password": remotePW, "host": "127.0.0.1", "port": b.ports["remote-db"], "dbname": "postgres"})
	b.secret("cairn/app-db/master", map[string]string{"username": masterUser, "password": masterPW})

	// The local instance: the role that may connect, and one that may not.
	app := b.conn("app-db", masterUser, masterPW)
	exec1(t, app, "CREATE ROLE reporter LOGIN PASSWORD 'Reporter-pw-1'")
	exec1(t, app, "CREATE ROLE intruder LOGIN PASSWORD 'Intruder-pw-1'")

	args := []string{"run", "dblink-secret", "-p", "instance=app-db", "-p", "secret=" + b.remote, "-p", "grant-to=reporter",
		"-p", "ssl-root-cert=" + b.ca, "-p", "credentials-secret=cairn/app-db/master", "-p", "architecture=" + map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH],
		"--yes", "--no-tui"}

	t.Run("bad input is refused in preflight, nothing made", func(t *testing.T) {
		b.secret("cairn/bad/not-json", `{"username": "x", "password": "Leak-me-not-9" oops`)
		b.secret("cairn/bad/no-port", map[string]string{"username": "x", "password": "Leak-me-not-9", "host": "127.0.0.1", "dbname": "postgres"})
		// A function of the runbook's name with other code, not deployed by cairn.
		b.foreignFunction("cairn-dblink-foreign")
		cases := []struct {
			params []string
			want   string
		}{
			{[]string{"secret=cairn/bad/missing"}, "secret cairn/bad/missing does not exist"},
			{[]string{"secret=cairn/bad/not-json"}, "is not a JSON object"},
			{[]string{"secret=cairn/bad/no-port"}, "lacks usable keys: port"},
			{[]string{"function-name=cairn-dblink-foreign"}, "already exists with other code"},
			{[]string{"grant-to=nobody_here"}, "grant-to role nobody_here does not exist"},
			{[]string{"owner-role=intruder"}, "role intruder exists and was not made by cairn"},
		}
		for _, c := range cases {
			a := withParams(args, c.params...)
			out, code := b.cairn(a...)
			if code == 0 || !strings.Contains(out, c.want) {
				t.Errorf("%v: exit %d, want refusal %q:\n%s", c.params, code, c.want, out)
			}
			if strings.Contains(out, "Leak-me-not-9") {
				t.Errorf("%v: the bad secret's password is in the output", c.params)
			}
		}
		// Nothing half-made: no IAM role, no function, no schema, no owner role.
		ic := iam.NewFromConfig(b.aws)
		for _, r := range []string{"cairn-dblink-app-db", "cairn-dblink-app-db-fn"} {
			if _, err := ic.GetRole(b.ctx(), &iam.GetRoleInput{RoleName: aws.String(r)}); err == nil {
				t.Errorf("role %s was created by a refused run", r)
			}
		}
		if _, err := lambda.NewFromConfig(b.aws).GetFunction(b.ctx(), &lambda.GetFunctionInput{FunctionName: aws.String("cairn-dblink-secret")}); err == nil {
			t.Error("the function was created by a refused run")
		}
		var n int
		_ = app.QueryRow(b.ctx(), "SELECT count(*) FROM pg_namespace WHERE nspname = 'dblink_secret'").Scan(&n)
		if n != 0 {
			t.Error("the schema was created by a refused run")
		}
		_ = app.QueryRow(b.ctx(), "SELECT count(*) FROM pg_roles WHERE rolname = 'dblink_secret_owner'").Scan(&n)
		if n != 0 {
			t.Error("the owner role was created by a refused run")
		}
		// Clean the state dir so the real run below is the only one.
		os.RemoveAll(b.state)
	})

	out, code := b.cairn(args...)
	if code != 0 {
		t.Fatalf("cairn run dblink-secret: exit %d\n%s\ntwin: %s", code, out, b.lambdaLog())
	}
	transcripts := []string{out}

	t.Run("a grant-to role connects and reads remote rows", func(t *testing.T) {
		rep := b.conn("app-db", "reporter", "Reporter-pw-1")
		var status string
		if err := rep.QueryRow(b.ctx(), "SELECT dblink_secret.connect_remote('remote', $1)", b.remote).Scan(&status); err != nil {
			t.Fatalf("connect_remote: %v\n%s", err, b.lambdaLog())
		}
		if status != "connected remote" {
			t.Errorf("status %q", status)
		}
		var n int
		if err := rep.QueryRow(b.ctx(), "SELECT count(*) FROM dblink('remote', 'SELECT id, name FROM app.items') AS t(id int, name text)").Scan(&n); err != nil || n != 42 {
			t.Fatalf("rows through dblink: %d, %v", n, err)
		}
		var ssl string
		_ = rep.QueryRow(b.ctx(), "SELECT s FROM dblink('remote', 'SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()') AS t(s text)").Scan(&ssl)
		if ssl != "true" {
			t.Errorf("the dblink connection is not TLS: %q", ssl)
		}
		// Only allow-listed ids.
		_, err := rep.Exec(b.ctx(), "SELECT dblink_secret.connect_remote('other', 'cairn/app-db/master')")
		if err == nil || !strings.Contains(err.Error(), "not in the allow-list") {
			t.Errorf("a secret id outside the allow-list: %v", err)
		}
	})

	t.Run("connect_remote runs as a NOLOGIN owner role, never the admin", func(t *testing.T) {
		var owner string
		var login, super, adminsRole bool
		if err := app.QueryRow(b.ctx(), `SELECT r.rolname, r.rolcanlogin, r.rolsuper, pg_has_role(r.oid, $1, 'MEMBER')
			FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE p.oid = 'dblink_secret.connect_remote(text,text)'::regprocedure`, masterUser).Scan(&owner, &login, &super, &adminsRole); err != nil {
			t.Fatal(err)
		}
		if owner != "dblink_secret_owner" || login || super || adminsRole {
			t.Fatalf("connect_remote's owner %s (may log in: %t, superuser: %t, has the admin's rights: %t), want the NOLOGIN role dblink_secret_owner", owner, login, super, adminsRole)
		}
		// The role cannot log in even with the right password (given to it here for the try only).
		su := b.superuser("app-db")
		exec1(t, su, "ALTER ROLE dblink_secret_owner PASSWORD "+quoteLit(verifier(t, "Owner-pw-1")))
		c, err := b.tryConn("app-db", "dblink_secret_owner", "Owner-pw-1")
		exec1(t, su, "ALTER ROLE dblink_secret_owner PASSWORD NULL")
		if err == nil {
			c.Close(b.ctx())
			t.Fatal("dblink_secret_owner logged in")
		}
		if !strings.Contains(err.Error(), "not permitted to log in") {
			t.Fatalf("the owner's login failed for another reason than NOLOGIN: %v", err)
		}
		// The app role still connects through it, and the owner holds nothing of the admin's.
		rep := b.conn("app-db", "reporter", "Reporter-pw-1")
		var who string
		if err := rep.QueryRow(b.ctx(), "SELECT dblink_secret.connect_remote('whoami', $1)", b.remote).Scan(&who); err != nil || who != "connected whoami" {
			t.Fatalf("reporter through connect_remote: %q, %v\n%s", who, err, b.lambdaLog())
		}
		defer rep.Exec(b.ctx(), "SELECT dblink_disconnect('whoami')")
		var n int
		if err := rep.QueryRow(b.ctx(), "SELECT count(*) FROM dblink('whoami', 'SELECT id FROM app.items') AS t(id int)").Scan(&n); err != nil || n != 42 {
			t.Fatalf("rows through the owner's connection: %d, %v", n, err)
		}
		for _, q := range []string{
			"SELECT has_table_privilege('dblink_secret_owner', 'dblink_secret.allowed_secrets', 'INSERT, UPDATE, DELETE, TRUNCATE')",
			"SELECT has_database_privilege('dblink_secret_owner', current_database(), 'CREATE')",
			"SELECT pg_has_role('dblink_secret_owner', 'rds_superuser', 'MEMBER')",
			"SELECT pg_has_role('dblink_secret_owner', '" + masterUser + "', 'MEMBER')",
			"SELECT rolcreaterole OR rolcreatedb OR rolbypassrls OR rolreplication FROM pg_roles WHERE rolname = 'dblink_secret_owner'",
		} {
			var got bool
			if err := app.QueryRow(b.ctx(), q).Scan(&got); err != nil || got {
				t.Errorf("%s: %t, %v; want false", q, got, err)
			}
		}
	})

	t.Run("a role not in grant-to is refused", func(t *testing.T) {
		in := b.conn("app-db", "intruder", "Intruder-pw-1")
		_, err := in.Exec(b.ctx(), "SELECT dblink_secret.connect_remote('remote', $1)", b.remote)
		if sqlState(err) != "42501" {
			t.Fatalf("intruder ran connect_remote: %v", err)
		}
	})

	t.Run("no function the grant-to role may execute returns the password", func(t *testing.T) {
		rep := b.conn("app-db", "reporter", "Reporter-pw-1")
		rows, err := rep.Query(b.ctx(), `SELECT p.oid::regprocedure::text, n.nspname, p.prosecdef
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND has_function_privilege(p.oid, 'EXECUTE')`)
		if err != nil {
			t.Fatal(err)
		}
		type fn struct {
			sig, schema string
			secdef      bool
		}
		var fns []fn
		for rows.Next() {
			var f fn
			if err := rows.Scan(&f.sig, &f.schema, &f.secdef); err != nil {
				t.Fatal(err)
			}
			fns = append(fns, f)
		}
		if len(fns) == 0 {
			t.Fatal("the sweep found nothing")
		}
		for _, f := range fns {
			switch {
			case f.schema == "aws_lambda" || f.schema == "aws_commons":
				t.Errorf("reporter may execute %s", f.sig)
			case f.secdef && f.sig != "dblink_secret.connect_remote(text,text)":
				t.Errorf("reporter may execute another SECURITY DEFINER function: %s", f.sig)
			case f.schema != "public" && f.schema != "dblink_secret":
				t.Errorf("unexpected executable function %s", f.sig)
			}
		}
		// Call what could carry it, on a live connection: none answers with the password.
		var status string
		if err := rep.QueryRow(b.ctx(), "SELECT dblink_secret.connect_remote('sweep', $1)", b.remote).Scan(&status); err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{"SELECT dblink_get_connections()::text", "SELECT dblink_error_message('sweep')",
			"SELECT dblink_secret.connect_remote('sweep', '" + b.remote + "')", "SELECT coalesce(dblink_is_busy('sweep')::text, '')",
			"SELECT string_agg(x, ',') FROM dblink('sweep', 'SELECT current_user || current_setting(''application_name'')') AS t(x text)"} {
			var got *string
			if err := rep.QueryRow(b.ctx(), q).Scan(&got); err != nil {
				t.Errorf("%s: %v", q, err)
				continue
			}
			if got != nil && strings.Contains(*got, remotePW) {
				t.Errorf("%s returned the password", q)
			}
		}
		for _, q := range []string{
			"SELECT * FROM aws_lambda.invoke(aws_commons.create_lambda_function_arn('cairn-dblink-secret', 'us-east-1'), '{\"secret_id\": \"" + b.remote + "\", \"field\": \"password\"}'::json)",
			"SELECT * FROM aws_lambda.invoke('cairn-dblink-secret', '{\"secret_id\": \"" + b.remote + "\", \"field\": \"password\"}'::json)",
			"SELECT * FROM aws_lambda._twin_invoke('cairn-dblink-secret', NULL, '{}', NULL, NULL, NULL, NULL)",
		} {
			if _, err := rep.Exec(b.ctx(), q); sqlState(err) != "42501" {
				t.Errorf("reporter may call aws_lambda: %s: %v", q, err)
			}
		}
	})

	t.Run("rotation needs no change in the database", func(t *testing.T) {
		sm := secretsmanager.NewFromConfig(b.aws)
		raw, _ := json.Marshal(map[string]any{"username": "remote_app", "password": rotatedPW, "host": "127.0.0.1", "port": b.ports["remote-db"], "dbname": "postgres"})
		if _, err := sm.PutSecretValue(b.ctx(), &secretsmanager.PutSecretValueInput{SecretId: &b.remote, SecretString: aws.String(string(raw))}); err != nil {
			t.Fatal(err)
		}
		exec1(t, rm, "ALTER ROLE remote_app PASSWORD "+quoteLit(verifier(t, rotatedPW)))
		rep := b.conn("app-db", "reporter", "Reporter-pw-1")
		var n int
		if _, err := rep.Exec(b.ctx(), "SELECT dblink_secret.connect_remote('remote', $1)", b.remote); err != nil {
			t.Fatalf("after rotation: %v", err)
		}
		if err := rep.QueryRow(b.ctx(), "SELECT count(*) FROM dblink('remote', 'SELECT 1 FROM app.items') AS t(x int)").Scan(&n); err != nil || n != 42 {
			t.Fatalf("after rotation: %d %v", n, err)
		}
	})

	var failure string
	t.Run("a failed connection leaks nothing", func(t *testing.T) {
		// The remote's password changes behind the secret's back: the next connection fails.
		exec1(t, rm, "ALTER ROLE remote_app PASSWORD "+quoteLit(verifier(t, wrongPW)))
		rep := b.conn("app-db", "reporter", "Reporter-pw-1")
		_, err := rep.Exec(b.ctx(), "SELECT dblink_secret.connect_remote('remote', $1)", b.remote)
		if err == nil {
			t.Fatal("connect_remote worked with a wrong password")
		}
		var pe *pgconn.PgError
		errors.As(err, &pe)
		failure = err.Error()
		if pe != nil {
			failure += " " + pe.Detail + " " + pe.Hint + " " + pe.Where
		}
		if !strings.Contains(failure, "password authentication failed") {
			t.Errorf("the failure does not say why: %s", failure)
		}
		var acts []string
		rows, _ := app.Query(b.ctx(), "SELECT coalesce(query, '') FROM pg_stat_activity")
		for rows.Next() {
			var q string
			_ = rows.Scan(&q)
			acts = append(acts, q)
		}
		transcripts = append(transcripts, failure, strings.Join(acts, "\n"))
	})

	// Every place a password could land: transcripts, errors, pg_stat_activity, both servers' logs,
	// the function's log, the journal and everything else in cairn's state directory.
	places := map[string]string{}
	for i, s := range transcripts {
		places[fmt.Sprintf("transcript %d", i)] = s
	}
	for _, l := range b.logs {
		data, _ := os.ReadFile(l)
		places[l] = string(data)
	}
	places["function log"] = b.lambdaLog()
	_ = filepath.WalkDir(b.state, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			data, _ := os.ReadFile(p)
			places[p] = string(data)
		}
		return nil
	})
	var sawStatements bool
	for where, text := range places {
		for _, pw := range []string{remotePW, rotatedPW, masterPW} {
			// The password as it is, SQL-quoted, JSON-quoted, and its longest run without quote characters.
			forms := []string{pw, strings.ReplaceAll(pw, "'", "''"), jsonQuoted(pw), longestPlainRun(pw)}
			for _, f := range forms {
				if strings.Contains(text, f) && !(pw == masterPW && strings.Contains(where, "postgres.log")) {
					t.Errorf("a password (form %q) appears in %s", f, where)
				}
			}
		}
		if strings.Contains(where, "postgres.log") && strings.Contains(text, "connect_remote") {
			sawStatements = true
		}
	}
	if !sawStatements {
		t.Error("the server logs hold no connect_remote statement: log_statement=all did not take")
	}

	t.Run("rollback removes everything, newest first", func(t *testing.T) {
		ids, _ := os.ReadDir(filepath.Join(b.state, "runs"))
		if len(ids) != 1 {
			t.Skipf("runs: %v", ids)
		}
		out, code := b.cairn("rollback", ids[0].Name(), "--yes", "--no-tui")
		if code != 0 { // the rollback asked for is done
			t.Fatalf("rollback: %d\n%s", code, out)
		}
		var n int
		_ = app.QueryRow(b.ctx(), "SELECT count(*) FROM pg_namespace WHERE nspname IN ('dblink_secret', 'aws_lambda', 'aws_commons')").Scan(&n)
		if n != 0 {
			t.Errorf("%d schemas left", n)
		}
		_ = app.QueryRow(b.ctx(), "SELECT count(*) FROM pg_roles WHERE rolname = 'dblink_secret_owner'").Scan(&n)
		if n != 0 {
			t.Error("the owner role dblink_secret_owner is still there")
		}
		if _, err := lambda.NewFromConfig(b.aws).GetFunction(b.ctx(), &lambda.GetFunctionInput{FunctionName: aws.String("cairn-dblink-secret")}); err == nil {
			t.Error("the function is still there")
		}
		if _, err := iam.NewFromConfig(b.aws).GetRole(b.ctx(), &iam.GetRoleInput{RoleName: aws.String("cairn-dblink-app-db")}); err == nil {
			t.Error("the instance role is still there")
		}
	})
}

// withParams replaces (or adds) -p name=value in args.
func withParams(args []string, params ...string) []string {
	out := append([]string(nil), args...)
	for _, p := range params {
		name, _, _ := strings.Cut(p, "=")
		replaced := false
		for i := 0; i+1 < len(out); i++ {
			if out[i] == "-p" && strings.HasPrefix(out[i+1], name+"=") {
				out[i+1], replaced = p, true
			}
		}
		if !replaced {
			out = append(out, "-p", p)
		}
	}
	return out
}

func (b *bed) lambdaLog() string {
	data, _ := os.ReadFile(filepath.Join(b.twin.Dir, "lambda", "cairn-dblink-secret", "log"))
	return string(data)
}

// foreignFunction deploys, outside cairn, a function with other code under name.
func (b *bed) foreignFunction(name string) {
	b.t.Helper()
	ic := iam.NewFromConfig(b.aws)
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role, err := ic.CreateRole(b.ctx(), &iam.CreateRoleInput{RoleName: aws.String("someone-elses"), AssumeRolePolicyDocument: &trust})
	if err != nil {
		b.t.Fatal(err)
	}
	zip := filepath.Join(testbed.TempDir(b.t), "other.zip")
	dir := filepath.Dir(zip)
	if err := os.WriteFile(filepath.Join(dir, "bootstrap"), []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if out, err := exec.Command("zip", "-j", "-q", zip, filepath.Join(dir, "bootstrap")).CombinedOutput(); err != nil {
		b.t.Fatalf("zip: %v %s", err, out)
	}
	data, _ := os.ReadFile(zip)
	if _, err := lambda.NewFromConfig(b.aws).CreateFunction(b.ctx(), &lambda.CreateFunctionInput{FunctionName: &name, Runtime: lambdatypes.RuntimeProvidedal2023,
		Handler: aws.String("bootstrap"), Role: role.Role.Arn, Code: &lambdatypes.FunctionCode{ZipFile: data}}); err != nil {
		b.t.Fatal(err)
	}
}
