package twin_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// TestFidelity holds the twin to what real RDS for PostgreSQL shows where a rehearsal looks (see
// ../shared/notes/rds-facts.md): one twin and one instance, probed from inside as its master user.
func TestFidelity(t *testing.T) {
	t.Parallel()
	s, c := startTwin(t, testbed.TempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const pw = "fidelity-pass-1"
	inst := createInstance(t, ctx, c, "fid-db", pw, nil)
	dsn := func(db string) string {
		return fmt.Sprintf("host=%s port=%d dbname=%s user=master password=%s sslmode=disable",
			*inst.Endpoint.Address, *inst.Endpoint.Port, db, pgcluster.QuoteValue(pw))
	}

	t.Run("master sees", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dsn("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		owners := map[string]string{}
		rows, _ := conn.Query(ctx, "SELECT datname, pg_get_userbyid(datdba), coalesce(datacl::text, '') FROM pg_database")
		var acl string
		for rows.Next() {
			var db, owner, a string
			if err := rows.Scan(&db, &owner, &a); err != nil {
				t.Fatal(err)
			}
			owners[db] = owner
			if db == "rdsadmin" {
				acl = a
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"postgres": "master", "template1": "master", "template0": "rdsadmin", "rdsadmin": "rdsadmin", "app": "master"}
		if fmt.Sprint(owners) != fmt.Sprint(want) {
			t.Errorf("database owners = %v, want %v (as on RDS)", owners, want)
		}
		if acl != "{rdsadmin=CTc/rdsadmin}" {
			t.Errorf("rdsadmin's ACL = %q, want {rdsadmin=CTc/rdsadmin}", acl)
		}
		if psql, err := exec.LookPath("psql"); err == nil {
			out, err := exec.CommandContext(ctx, psql, "-X", "-l", "-d", dsn("postgres")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "rdsadmin") {
				t.Errorf("psql -l: %v\n%s", err, out)
			}
		}
		if c, err := pgx.Connect(ctx, dsn("rdsadmin")); err == nil {
			c.Close(context.Background())
			t.Error("the master connected to rdsadmin; RDS refuses it")
		} else if !strings.Contains(err.Error(), "permission denied for database") {
			t.Errorf("connect to rdsadmin: %v, want permission denied", err)
		}
		for _, q := range []string{
			"CREATE TABLE public.probe (id int PRIMARY KEY)",
			"CREATE ROLE replicator LOGIN PASSWORD 'replicator-pass-1'",
			"GRANT rds_replication TO replicator",
			"GRANT rds_password TO replicator",
			"CREATE EXTENSION pg_stat_statements",
			"SELECT count(*) FROM pg_stat_statements",
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Errorf("as the master, %s: %v (RDS allows it)", q, err)
			}
		}
		var ssl, preload string
		if err := conn.QueryRow(ctx, "SELECT current_setting('rds.force_ssl'), current_setting('shared_preload_libraries')").Scan(&ssl, &preload); err != nil {
			t.Errorf("rds.force_ssl: %v", err)
		} else if ssl != "0" || !strings.Contains(preload, "pg_stat_statements") {
			t.Errorf("rds.force_ssl = %q, shared_preload_libraries = %q", ssl, preload)
		}
		// The master is still no superuser: an untrusted language stays out of reach.
		if _, err := conn.Exec(ctx, "CREATE EXTENSION plpython3u"); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("CREATE EXTENSION plpython3u as the master: %v, want permission denied", err)
		}
	})
	// What an engineer rehearsing the migration types, and what a script reads from the answers.
	cases := []cliCase{
		{args: []string{"sts", "get-caller-identity"}, want: map[string]string{"Account": "000000000000"}},
		{args: []string{"secretsmanager", "create-secret", "--name", "fid/master", "--secret-string", `{"username":"master"}`}, want: map[string]string{"Name": "fid/master"}, once: true},
		{args: []string{"secretsmanager", "put-secret-value", "--secret-id", "fid/master", "--secret-string", `{"username":"master","password":"x"}`}, want: map[string]string{"VersionStages.0": "AWSCURRENT"}, once: true},
		{args: []string{"secretsmanager", "list-secrets"}, want: map[string]string{"#SecretList": "1", "SecretList.0.Name": "fid/master", "#SecretList.0.SecretVersionsToStages": "2"}},
		{args: []string{"secretsmanager", "list-secrets", "--filters", "Key=name,Values=other/"}, want: map[string]string{"#SecretList": "0"}},
		{args: []string{"secretsmanager", "list-secret-version-ids", "--secret-id", "fid/master"}, want: map[string]string{"#Versions": "2", "Name": "fid/master"}},
		{args: []string{"secretsmanager", "list-secret-version-ids", "--secret-id", "fid/none"}, err: "ResourceNotFoundException", msg: "can't find the specified secret"},
		{args: []string{"rds", "create-db-instance", "--db-instance-identifier", "fid-short", "--engine", "postgres", "--db-instance-class", "db.t3.micro",
			"--allocated-storage", "20", "--master-username", "master", "--master-user-password", "short-1"},
			err: "InvalidParameterValue", msg: "The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters."},
	}
	for n, cli := range awsCLIs() {
		t.Run("aws cli "+cli.name, func(t *testing.T) {
			var run []cliCase
			var lines [][]string
			for _, c := range cases {
				if c.once && n > 0 {
					continue
				}
				run = append(run, c)
				lines = append(lines, append([]string{"--endpoint-url", s.Endpoint(), "--output", "json"}, c.args...))
			}
			for i, r := range runCLI(t, ctx, cli.python, s.Env(), lines) {
				run[i].check(t, cli.name, r)
			}
		})
	}
}
