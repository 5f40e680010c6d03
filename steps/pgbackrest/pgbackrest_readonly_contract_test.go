package pgbackrest_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/pgbackrest"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// readOnlyWorld is the world of runbook_test.go without the cairn binary: a throwaway cluster with
// its payroll table, unique names, and a stanza configuration that points at this cluster. Its
// preflight reaches pgBackRest through a symlink the test owns, so a break can take it away.
func readOnlyWorld(t *testing.T) (*world, string) {
	t.Helper()
	testbed.RequireRoot(t, "")
	real, err := exec.LookPath("pgbackrest")
	testbed.Require(t, "pgBackRest", func() error { return err })
	w := &world{t: t, dir: testbed.TempDir(t)}
	w.pg = testbed.Postgres(t)
	w.osUser = testbed.UniqueName(t, "pgbr")
	w.role = testbed.UniqueName(t, "backrest")
	w.stanza = "main"
	w.config = filepath.Join(w.dir, "etc", "pgbackrest", "pgbackrest.conf")
	w.repo = filepath.Join(w.dir, "repo")
	w.lock = filepath.Join(w.dir, "lock")
	w.log = filepath.Join(w.dir, "log")
	w.spool = filepath.Join(w.dir, "spool")
	w.home = filepath.Join(w.dir, "home", w.osUser)
	w.pg.Exec(t, "postgres", "CREATE TABLE payroll (name text, salary int); INSERT INTO payroll VALUES ('a', 1)")
	must(t, os.MkdirAll(filepath.Dir(w.config), 0o755))
	must(t, os.WriteFile(w.config, []byte("[global]\nrepo1-path="+w.repo+"\n\n["+w.stanza+"]\npg1-path="+w.pg.DataDir+"\n"), 0o640))
	bin := filepath.Join(w.dir, "bin", "pgbackrest")
	must(t, os.MkdirAll(filepath.Dir(bin), 0o755))
	must(t, os.Symlink(real, bin))
	return w, bin
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// readOnlyProbe is the world's snapshot (data directory modes, pg_hba.conf, postgresql.auto.conf,
// settings, the role and the OS user) plus every role with its attributes and memberships, the
// grants on payroll, and the configuration file's bytes.
func readOnlyProbe(w *world) func(t testing.TB) string {
	return func(t testing.TB) string {
		var roles, grants string
		conn := w.pg.Conn(t, "postgres", w.pg.Superuser)
		if err := conn.QueryRow(context.Background(), `SELECT string_agg(r.rolname || ' super=' || r.rolsuper || ' login=' || r.rolcanlogin
			|| ' inherit=' || r.rolinherit || ' in=' || coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m
			JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '-'), E'\n' ORDER BY r.rolname) FROM pg_roles r`).Scan(&roles); err != nil {
			t.Fatal(err)
		}
		if err := conn.QueryRow(context.Background(), `SELECT coalesce(relacl::text, '-') FROM pg_class WHERE oid = 'payroll'::regclass`).Scan(&grants); err != nil {
			t.Fatal(err)
		}
		cfg, _ := os.ReadFile(w.config)
		return fmt.Sprintf("%s\nroles:\n%s\npayroll acl: %s\n%s\nconfig:\n%s", w.snapshot(), roles, grants, statLine(w.config, "config"), cfg)
	}
}

const preflightYAML = `
conn: "${params.conn}"
bin: "${params.pgbackrest-bin}"
config: "${params.config}"
stanza: "${params.stanza}"
role: "${params.db-role}"
os_user: "${params.os-user}"
`

func preflightCase(t *testing.T, w *world, bin string) steptest.Case {
	r := steps.NewRegistry()
	pgbackrest.Register(r)
	st := steptest.Decode(t, r, "pgbackrest-preflight", preflightYAML)
	env := steptest.Env(t, map[string]string{"conn": w.pg.ConnString("postgres", w.pg.Superuser), "pgbackrest-bin": bin,
		"config": w.config, "stanza": w.stanza, "db-role": w.role, "os-user": w.osUser})
	return steptest.Case{Step: st, Env: env, Probe: readOnlyProbe(w),
		NoLookAlike: "it reads the server, pgBackRest and the stanza's configuration afresh every run; its done is that reading, not an artifact (a role of the step's name with other privileges is its spoiled-target case)"}
}

// pgbackrest-preflight only reads: on a good server it passes and changes nothing the probe sees;
// with pgBackRest gone, or the role name taken by a role with other privileges, it refuses.
func TestPreflightReadOnlyContract(t *testing.T) {
	t.Run("pgBackRest missing", func(t *testing.T) {
		w, bin := readOnlyWorld(t)
		c := preflightCase(t, w, bin)
		steptest.RunReadOnly(t, c, func(t testing.TB) { must(t, os.Remove(bin)) })
		ch := c.Step.Check(context.Background(), c.Env)
		if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "pgBackRest is not installed: "+bin+" not found") || !strings.Contains(ch.Fix, "pgbackrest-bin=") {
			t.Fatalf("want blocked naming the missing binary and the fix, got %+v", ch)
		}
	})
	t.Run("role name taken", func(t *testing.T) {
		w, bin := readOnlyWorld(t)
		c := preflightCase(t, w, bin)
		steptest.RunReadOnly(t, c, func(t testing.TB) {
			w.pg.Exec(t, "postgres", "CREATE ROLE "+w.role+" LOGIN; GRANT SELECT ON payroll TO "+w.role)
			t.Cleanup(func() { w.pg.Exec(t, "postgres", "DROP OWNED BY "+w.role+"; DROP ROLE "+w.role) })
		})
		ch := c.Step.Check(context.Background(), c.Env)
		if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "already exists with other privileges: SELECT on payroll") || ch.Fix == "" {
			t.Fatalf("want blocked naming the extra privilege, got %+v", ch)
		}
		if _, err := c.Step.Apply(context.Background(), c.Env); err == nil {
			t.Fatal("apply passed with the role name taken")
		}
	})
}
