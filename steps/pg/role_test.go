package pg_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

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
	testbed.RequireRoot(t, "")
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
	testbed.RequireRoot(t, "")
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
