package pg_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func TestSQLContract(t *testing.T) {
	pg := testbed.Postgres(t)
	role := testbed.UniqueName(t, "r")
	st := steptest.Decode(t, all.Registry(), "sql", `
conn: "${params.conn}"
check: SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${params.role})
statements:
  - CREATE ROLE ${params.role | ident} LOGIN PASSWORD ${params.pw | scram}
  - COMMENT ON ROLE ${params.role | ident} IS ${params.note | literal}
verify: SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = ${params.role} AND rolcanlogin)
rollback:
  - DROP ROLE ${params.role | ident}
`)
	env := steptest.Env(t, map[string]string{"conn": pg.ConnString("postgres", pg.Superuser), "role": role, "secret:pw": "pw'\"\\ x", "note": "it's cairn's"})
	steptest.Run(t, steptest.Case{
		Step: st, Env: env,
		Probe: func(t testing.TB) string {
			return fmt.Sprintf("role exists: %d", pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = $1", role))
		},
		Tamper:      func(t testing.TB) { pg.Exec(t, "postgres", "DROP ROLE "+role) },
		NoLookAlike: "done is whatever the runbook's own check query says; the kind has no address of its own to plant at",
	})
}

func TestSQLFailureRollsBackTheTransaction(t *testing.T) {
	pg := testbed.Postgres(t)
	st := steptest.Decode(t, all.Registry(), "sql", `
conn: "${params.conn}"
statements:
  - CREATE TABLE half (id int)
  - SELECT 1/0
`)
	env := steptest.Env(t, map[string]string{"conn": pg.ConnString("postgres", pg.Superuser)})
	_, err := st.Apply(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "division by zero") || !strings.Contains(err.Error(), "nothing changed") || !steps.IsUnchanged(err) {
		t.Fatalf("apply error: %v (said to change nothing: %v), want the rolled-back transaction's, said to change nothing — a roll back does not undo the step", err, steps.IsUnchanged(err))
	}
	if n := pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'half'"); n != 0 {
		t.Fatal("half-made table left behind")
	}
	if ch := st.Check(context.Background(), env); ch.State != steps.Unknown {
		t.Fatalf("no check query: want unknown, got %s", ch.State)
	}
}

func TestSQLCaptureOutputsAndRefusesPasswordInConn(t *testing.T) {
	pg := testbed.Postgres(t)
	st := steptest.Decode(t, all.Registry(), "sql", `
conn: "${params.conn}"
capture: SELECT current_setting('server_version_num') AS version, ARRAY(SELECT datname FROM pg_database WHERE NOT datistemplate ORDER BY 1) AS databases
`)
	env := steptest.Env(t, map[string]string{"conn": pg.ConnString("postgres", pg.Superuser)})
	out, err := st.Apply(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out["version"].Value, "15") || len(out["databases"].List) == 0 {
		t.Fatalf("outputs %+v", out)
	}
	env = steptest.Env(t, map[string]string{"conn": pg.ConnString("postgres", pg.Superuser) + " password=x"})
	if _, err := st.Apply(context.Background(), env); err == nil || !strings.Contains(err.Error(), "must not hold a password") {
		t.Fatalf("password in conn accepted: %v", err)
	}
}
