package pg_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/pg"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func reg() *steps.Registry {
	r := steps.NewRegistry()
	pg.Register(r)
	return r
}

func requireRoot(t *testing.T) {
	testbed.Require(t, "root", func() error {
		if os.Geteuid() != 0 {
			return fmt.Errorf("not root")
		}
		return nil
	})
}

func connYAML(c *testbed.PG) string {
	return fmt.Sprintf("conn: \"host=%s port=%d user=%s dbname=postgres\"\n", c.SocketDir, c.Port, c.Superuser)
}

func loadTime(t testing.TB, c *testbed.PG) string {
	var s string
	conn := c.Conn(t, "postgres", c.Superuser)
	if err := conn.QueryRow(context.Background(), "SELECT pg_conf_load_time()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHBAContract(t *testing.T) {
	requireRoot(t)
	c := testbed.Postgres(t)
	role := testbed.UniqueName(t, "hba")
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	s := steptest.Decode(t, reg(), "pg-hba", connYAML(c)+fmt.Sprintf(`lines:
  - local postgres %[1]s scram-sha-256
  - local all %[1]s reject
  - host all %[1]s 0.0.0.0/0 reject
`, role))
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	late := string(orig) + fmt.Sprintf("local postgres %[1]s scram-sha-256\nlocal all %[1]s reject\nhost all %[1]s 0.0.0.0/0 reject\n", role)
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "the same lines at the end of pg_hba.conf, after the lines of their type that win",
			Plant: func(t testing.TB) {
				must(t, os.WriteFile(hba, []byte(late), 0o600))
				c.Exec(t, "postgres", "SELECT pg_reload_conf()")
			},
			There: func(t testing.TB) bool {
				b, _ := os.ReadFile(hba)
				return strings.HasSuffix(string(b), late[len(orig):]) && strings.Count(string(b), "local all "+role+" reject") == 1
			},
			Remove: func(t testing.TB) {
				must(t, os.WriteFile(hba, orig, 0o600))
				c.Exec(t, "postgres", "SELECT pg_reload_conf()")
			},
		},
		Probe: func(t testing.TB) string {
			b, _ := os.ReadFile(hba)
			fi, _ := os.Stat(hba)
			st := fi.Sys().(*syscall.Stat_t)
			var rules string
			conn := c.Conn(t, "postgres", c.Superuser)
			// what the server has loaded: a connection attempt would show it; the file rules show what it will load
			_ = conn.QueryRow(context.Background(), "SELECT string_agg(type || ' ' || array_to_string(database, ',') || ' ' || array_to_string(user_name, ',') || ' ' || auth_method, '; ' ORDER BY line_number) FROM pg_hba_file_rules").Scan(&rules)
			return fmt.Sprintf("%o %d:%d\n%s\n%s", fi.Mode().Perm(), st.Uid, st.Gid, b, rules)
		},
		Tamper: func(t testing.TB) {
			b, _ := os.ReadFile(hba)
			lines := strings.Split(string(b), "\n")
			// move our first local line below the trust line: order matters
			var out []string
			var moved string
			for _, l := range lines {
				if strings.HasPrefix(l, "local postgres "+role) {
					moved = l
					continue
				}
				out = append(out, l)
				if strings.HasPrefix(l, "local all all trust") {
					out = append(out, moved)
				}
			}
			if err := os.WriteFile(hba, []byte(strings.Join(out, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
	// The placement: before the first local / host line.
	b, _ := os.ReadFile(hba)
	if !strings.Contains(string(b), "local all "+role+" reject\nlocal all all trust") || !strings.Contains(string(b), "host all "+role+" 0.0.0.0/0 reject\nhost all all 127.0.0.1/32") {
		t.Fatalf("lines not before their type's first line:\n%s", b)
	}
}

func TestHBAInvalidRestoredNothingReloaded(t *testing.T) {
	requireRoot(t)
	c := testbed.Postgres(t)
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	orig, _ := os.ReadFile(hba)
	loaded := loadTime(t, c)
	time.Sleep(10 * time.Millisecond)
	s := steptest.Decode(t, reg(), "pg-hba", connYAML(c)+"lines: [\"local all someone no-such-method\"]\n")
	env := steptest.Env(t, nil)
	_, err := s.Apply(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "invalid") || !strings.Contains(err.Error(), "restored") {
		t.Fatalf("apply of an invalid line: %v", err)
	}
	if now, _ := os.ReadFile(hba); string(now) != string(orig) {
		t.Fatalf("file not restored:\n%s", now)
	}
	if lt := loadTime(t, c); lt != loaded {
		t.Fatalf("the server reloaded: %s → %s", loaded, lt)
	}
}

func writePgpass(t testing.TB, dir, role string) string {
	p := filepath.Join(dir, ".pgpass")
	if err := os.WriteFile(p, []byte("*:*:postgres:"+role+":S3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func roleProbe(c *testbed.PG, role string) func(testing.TB) string {
	return func(t testing.TB) string {
		conn := c.Conn(t, "postgres", c.Superuser)
		var s string
		err := conn.QueryRow(context.Background(), `SELECT coalesce((SELECT format('login=%s inherit=%s pw=%s settings=%s start=%s stop=%s rp=%s sw=%s',
			rolcanlogin, rolinherit, rolpassword IS NOT NULL, pg_has_role(r.oid, 'pg_read_all_settings', 'MEMBER'),
			has_function_privilege(r.oid, 'pg_backup_start(text,boolean)', 'EXECUTE'), has_function_privilege(r.oid, 'pg_backup_stop(boolean)', 'EXECUTE'),
			has_function_privilege(r.oid, 'pg_create_restore_point(text)', 'EXECUTE'), has_function_privilege(r.oid, 'pg_switch_wal()', 'EXECUTE'))
			FROM pg_authid r WHERE rolname = $1), 'absent')`, role).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

const grantsYAML = `name: %s
login: true
password_from_pgpass: %s
member_of: [pg_read_all_settings]
backup_functions: true
execute: ["pg_catalog.pg_create_restore_point(text)", "pg_catalog.pg_switch_wal()"]
exclusive: true
`

func TestRoleContract(t *testing.T) {
	requireRoot(t)
	c := testbed.Postgres(t)
	role := testbed.UniqueName(t, "backrest")
	pgpass := writePgpass(t, t.TempDir(), role)
	s := steptest.Decode(t, reg(), "pg-role", connYAML(c)+fmt.Sprintf(grantsYAML, role, pgpass))
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil), Probe: roleProbe(c, role),
		LookAlike: &steptest.LookAlike{
			What: "a role of the same name with the same grants and the .pgpass password, that may also CREATEDB",
			Plant: func(t testing.TB) {
				pw, _ := os.ReadFile(pgpass)
				c.Exec(t, "postgres", fmt.Sprintf(`CREATE ROLE %[1]s LOGIN CREATEDB PASSWORD '%[2]s'; GRANT pg_read_all_settings TO %[1]s;
					GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean), pg_create_restore_point(text), pg_switch_wal() TO %[1]s`,
					role, strings.TrimSpace(strings.SplitN(string(pw), ":", 5)[4])))
			},
			There: func(t testing.TB) bool {
				return c.QueryInt(t, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = $1 AND rolcreatedb AND rolcanlogin", role) == 1
			},
			Remove: func(t testing.TB) {
				c.Exec(t, "postgres", fmt.Sprintf(`REVOKE EXECUTE ON FUNCTION pg_backup_start(text, boolean), pg_backup_stop(boolean), pg_create_restore_point(text), pg_switch_wal() FROM %[1]s;
					DROP ROLE %[1]s`, role))
			},
		},
		Tamper: func(t testing.TB) { c.Exec(t, "postgres", "REVOKE pg_read_all_settings FROM "+role) },
	})
	// The password set is the one in the .pgpass (a real login over TCP with scram).
	c.Exec(t, "postgres", "GRANT pg_read_all_settings TO "+role)
	if out, err := runPsql(c.TCPConnString("postgres", role), pgpass); err != nil {
		t.Fatalf("login with the .pgpass password over TCP: %v %s", err, out)
	}
}

// The seed's slip: the role is created as backrest, the grants go to pgbackrest. Verify catches it.
func TestRoleVerifyCatchesGrantToAnotherRole(t *testing.T) {
	requireRoot(t)
	c := testbed.Postgres(t)
	role := testbed.UniqueName(t, "backrest")
	other := testbed.UniqueName(t, "pgbackrest")
	c.Exec(t, "postgres", fmt.Sprintf(`CREATE ROLE %[1]s LOGIN; CREATE ROLE %[2]s;
		GRANT pg_read_all_settings TO %[2]s;
		GRANT EXECUTE ON FUNCTION pg_backup_start(text, boolean) TO %[2]s;
		GRANT EXECUTE ON FUNCTION pg_backup_stop(boolean) TO %[2]s;
		GRANT EXECUTE ON FUNCTION pg_create_restore_point(text) TO %[2]s;
		GRANT EXECUTE ON FUNCTION pg_switch_wal() TO %[2]s`, role, other))
	s := steptest.Decode(t, reg(), "pg-role", connYAML(c)+strings.Replace(fmt.Sprintf(grantsYAML, role, "x"), "password_from_pgpass: x\n", "", 1))
	err := s.Verify(context.Background(), steptest.Env(t, nil))
	if err == nil || !strings.Contains(err.Error(), "member of pg_read_all_settings") || !strings.Contains(err.Error(), "pg_backup_start") {
		t.Fatalf("verify of %s after grants to %s: %v", role, other, err)
	}
	// And a role with more than the backup grants is refused before anything changes.
	c.Exec(t, "postgres", "CREATE TABLE t (x int); GRANT SELECT ON t TO "+role)
	if ch := s.Check(context.Background(), steptest.Env(t, nil)); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "SELECT on t") {
		t.Fatalf("role with other privileges: want blocked, got %s %s", ch.State, ch.Reason)
	}
}

func TestPgpassContract(t *testing.T) {
	requireRoot(t)
	u := testbed.OSUser(t, "pgpass")
	file := filepath.Join(u.Home, ".pgpass")
	s := steptest.Decode(t, reg(), "pgpass", fmt.Sprintf("user: %s\nport: \"5432\"\ndatabase: postgres\nrole: backrest\n", u.Name))
	wildcard := "*:*:*:backrest:an-older-password\n"
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "a line for role backrest on any host, port and database, with another password (libpq reads the first match)",
			Plant: func(t testing.TB) {
				must(t, os.WriteFile(file, []byte(wildcard), 0o600))
				must(t, os.Chown(file, u.UID, u.GID))
			},
			There: func(t testing.TB) bool {
				b, err := os.ReadFile(file)
				return err == nil && string(b) == wildcard
			},
			Remove: func(t testing.TB) { must(t, os.Remove(file)) },
		},
		Probe: func(t testing.TB) string {
			b, err := os.ReadFile(file)
			if err != nil {
				return "absent"
			}
			fi, _ := os.Stat(file)
			st := fi.Sys().(*syscall.Stat_t)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			var keys []string
			for _, l := range lines {
				f := strings.SplitN(l, ":", 5)
				keys = append(keys, strings.Join(f[:4], ":")+fmt.Sprintf(" pwlen=%d", len(f[4])))
			}
			return fmt.Sprintf("%o %d %s", fi.Mode().Perm(), st.Uid, strings.Join(keys, ","))
		},
		Tamper: func(t testing.TB) { _ = os.Chmod(file, 0o644) },
	})
}

// An earlier line libpq would read instead of cairn's entry blocks the step: appending beside it
// would leave the entry unread.
func TestPgpassRefusesAShadowingLine(t *testing.T) {
	requireRoot(t)
	u := testbed.OSUser(t, "pgpass")
	file := filepath.Join(u.Home, ".pgpass")
	shadow := "localhost:*:postgres:backrest:an-older-password\n"
	must(t, os.WriteFile(file, []byte(shadow), 0o600))
	must(t, os.Chown(file, u.UID, u.GID))
	s := steptest.Decode(t, reg(), "pgpass", fmt.Sprintf("user: %s\nhost: localhost\nport: \"5432\"\ndatabase: postgres\nrole: backrest\n", u.Name))
	env := steptest.Env(t, nil)
	if ch := s.Check(context.Background(), env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "line 1") || ch.Fix == "" {
		t.Fatalf("want blocked naming line 1 with a fix, got %s: %s", ch.State, ch.Reason)
	}
	if _, err := s.Apply(context.Background(), env); err == nil {
		t.Fatal("apply appended an entry libpq would never read")
	}
	if b, _ := os.ReadFile(file); string(b) != shadow {
		t.Fatalf("the file changed: %q", b)
	}
}

func TestSettingsContract(t *testing.T) {
	requireRoot(t)
	c := testbed.Postgres(t)
	auto := filepath.Join(c.DataDir, "postgresql.auto.conf")
	c.Exec(t, "postgres", "ALTER SYSTEM SET log_min_duration_statement = '1000'")
	s := steptest.Decode(t, reg(), "pg-settings", connYAML(c)+"set:\n  log_min_duration_statement: \"250\"\n  archive_command: \"/bin/true %p\"\n")
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "the runbook's values in postgresql.auto.conf, written there but never loaded by the server",
			Plant: func(t testing.TB) {
				c.Exec(t, "postgres", "ALTER SYSTEM SET log_min_duration_statement = '250'")
				c.Exec(t, "postgres", "ALTER SYSTEM SET archive_command = '/bin/true %p'")
			},
			There: func(t testing.TB) bool {
				b, _ := os.ReadFile(auto)
				return strings.Contains(string(b), "\nlog_min_duration_statement = '250'\n") && strings.Contains(string(b), "\narchive_command = '/bin/true %p'\n")
			},
			Remove: func(t testing.TB) {
				c.Exec(t, "postgres", "ALTER SYSTEM SET log_min_duration_statement = '1000'")
				c.Exec(t, "postgres", "ALTER SYSTEM RESET archive_command")
			},
		},
		Probe: func(t testing.TB) string {
			b, _ := os.ReadFile(auto)
			return string(b)
		},
		Tamper: func(t testing.TB) { c.Exec(t, "postgres", "ALTER SYSTEM RESET archive_command") },
	})
}

func TestRestartContract(t *testing.T) {
	requireRoot(t)
	c := testbed.Postgres(t)
	c.Exec(t, "postgres", "ALTER SYSTEM SET archive_mode = 'on'")
	c.Exec(t, "postgres", "SELECT pg_reload_conf()")
	s := steptest.Decode(t, reg(), "pg-restart", connYAML(c)+"allowed: \"true\"\n")
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		NoLookAlike: "done is the running server's own pending_restart, read live: there is no artifact to plant",
		Probe: func(t testing.TB) string {
			conn := c.Conn(t, "postgres", c.Superuser)
			var s string
			_ = conn.QueryRow(context.Background(), "SELECT current_setting('archive_mode') || ' pending=' || (SELECT count(*) FROM pg_settings WHERE pending_restart)").Scan(&s)
			return s
		},
	})
}

func runPsql(connStr, pgpass string) (string, error) {
	cmd := exec.Command("psql", "-X", "-At", connStr, "-c", "SELECT current_user")
	cmd.Env = append(os.Environ(), "PGPASSFILE="+pgpass)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
