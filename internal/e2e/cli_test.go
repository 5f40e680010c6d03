package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// `cairn plan` of the sample runbook prints the exact SQL it will run, with bound values, and the
// secret masked.
func TestPlanPrintsExactSQL(t *testing.T) {
	w := newWorld(t)
	out, errOut, code := w.cairn([]string{"CAIRN_ROLE_PASSWORD=topsecret"}, "plan", "sample-role", "-p", "role=app_ro")
	if code != 0 {
		t.Fatalf("plan: %d %s", code, errOut)
	}
	for _, want := range []string{
		"CREATE ROLE \"app_ro\" LOGIN PASSWORD 'SCRAM-SHA-256$4096:…' /* verifier of •••• computed by cairn */",
		"GRANT USAGE ON SCHEMA \"app_ro_data\" TO \"app_ro\"",
		"SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)\n  -- with $1 = \"app_ro\"",
		"PGPASSWORD=•••• PGUSER=app_ro psql",
		"Plan: 5 steps (not checked against the targets: add --check)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if strings.Contains(out, "topsecret") {
		t.Error("plan shows the secret")
	}
	if ids, _ := journal.List(w.state); len(ids) != 0 {
		t.Errorf("plan created runs: %v", ids)
	}
	out, _, code = w.cairn(nil, "plan", "sample-role", "-p", "role=app_ro", "--check")
	if code != 0 || !strings.Contains(out, "check: to apply") || !strings.Contains(out, "Plan: ") {
		t.Fatalf("plan --check: %d\n%s", code, out)
	}
}

// Bad input is refused before anything runs: no run directory, no change in the database.
func TestBadInputRunsNothing(t *testing.T) {
	w := newWorld(t)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	os.WriteFile(bad, []byte("schema: 1\nname: bad\ntitle: Bad\nsteps:\n  - id: a\n    kind: sql\n    title: A\n    with:\n      statements: [\"CREATE TABLE t_${params.nope} ()\"]\n"), 0o644)
	cases := []struct {
		args []string
		env  []string
		want string
		code int
	}{
		{[]string{"run", "bad", "--file", bad, "--yes"}, nil, "bad.yaml:9:", 1},
		{[]string{"run", "sample-role", "--yes"}, []string{"CAIRN_ROLE_PASSWORD=x"}, "missing parameter role: add -p role=<value>", 1},
		{[]string{"run", "sample-role", "-p", "role=Bad-Name", "--yes"}, []string{"CAIRN_ROLE_PASSWORD=x"}, "does not match the pattern", 1},
		{[]string{"run", "sample-role", "-p", "role=ok", "-p", "role-password=x", "--yes"}, nil, "never taken from a flag", 1},
		{[]string{"run", "sample-role", "-p", "role=ok"}, nil, "missing secret role-password: set the environment variable CAIRN_ROLE_PASSWORD", 1},
		{[]string{"run", "nope"}, nil, "no runbook named \"nope\"", 1},
		{[]string{"run", "sample-role", "-p", "role"}, nil, "write -p name=value", 2},
		{[]string{"run", "sample-role", "-p", "role=ok", "--on-failure", "shrug"}, []string{"CAIRN_ROLE_PASSWORD=x"}, "use abort or rollback", 2},
	}
	for _, c := range cases {
		_, errOut, code := w.cairn(c.env, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("cairn %v: exit %d (want %d), stderr:\n%s\nwant %q", c.args, code, c.code, errOut, c.want)
		}
	}
	if ids, _ := journal.List(w.state); len(ids) != 0 {
		t.Errorf("bad input created runs: %v", ids)
	}
}

// A typed confirmation is never guessed: without --confirm the run stops before the step; a wrong
// value stops it too; the right one lets it through. The report records who confirmed.
func TestTypedConfirmationAndReport(t *testing.T) {
	w := newWorld(t)
	rb := filepath.Join(t.TempDir(), "typed.yaml")
	os.WriteFile(rb, []byte(`schema: 1
name: typed
title: Drop a scratch table
parameters:
  - {name: table, required: true}
steps:
  - id: make
    kind: sql
    title: Make the table
    with:
      check: SELECT to_regclass(${params.table}) IS NOT NULL
      statements: ["CREATE TABLE ${params.table | ident} (id int)"]
      rollback: ["DROP TABLE ${params.table | ident}"]
  - id: drop
    kind: sql
    title: Drop the table
    destructive: true
    confirm: typed
    confirm_value: ${params.table}
    with:
      check: SELECT to_regclass(${params.table}) IS NULL
      statements: ["DROP TABLE ${params.table | ident}"]
`), 0o644)
	out, errOut, code := w.cairn(nil, "run", "typed", "--file", rb, "-p", "table=scratch", "--yes", "--no-tui")
	if code == 0 || !strings.Contains(out, "--confirm drop=scratch` (with your other flags) continues from it") {
		t.Fatalf("ran a typed step without confirmation: %d\n%s\n%s", code, out, errOut)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'scratch'"); n != 1 {
		t.Fatal("table dropped without confirmation")
	}
	out, _, code = w.cairn(nil, "run", "typed", "--file", rb, "-p", "table=scratch", "--yes", "--no-tui", "--confirm", "drop=scrath")
	if code == 0 {
		t.Fatalf("a wrong typed value went through:\n%s", out)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'scratch'"); n != 1 {
		t.Fatal("table dropped on a wrong confirmation")
	}
	out, _, code = w.cairn(nil, "run", "typed", "--file", rb, "-p", "table=scratch", "--yes", "--no-tui", "--confirm", "drop=scratch")
	if code != 0 {
		t.Fatalf("right confirmation: %d\n%s", code, out)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'scratch'"); n != 0 {
		t.Fatal("table not dropped")
	}
	ids, _ := journal.List(w.state)
	rep, _, _ := w.cairn(nil, "report", ids[len(ids)-1])
	if !strings.Contains(rep, "typed scratch by") || !strings.Contains(rep, "(flag --confirm)") || !strings.Contains(rep, "| succeeded") && !strings.Contains(rep, "**succeeded**") {
		t.Fatalf("report:\n%s", rep)
	}
}

// A failure with --on-failure rollback walks back the completed steps, newest first.
func TestFailureRollsBack(t *testing.T) {
	w := newWorld(t)
	rb := filepath.Join(t.TempDir(), "fail.yaml")
	os.WriteFile(rb, []byte(`schema: 1
name: fail
title: Fails at the end
steps:
  - id: one
    kind: sql
    title: One
    with:
      check: SELECT to_regclass('t_one') IS NOT NULL
      statements: ["CREATE TABLE t_one (id int)"]
      rollback: ["DROP TABLE t_one"]
  - id: two
    kind: sql
    title: Two
    with:
      check: SELECT to_regclass('t_two') IS NOT NULL
      statements: ["CREATE TABLE t_two (id int)"]
      rollback: ["DROP TABLE t_two"]
  - id: three
    kind: sql
    title: Three fails
    with:
      check: SELECT false
      statements: ["SELECT 1/0"]
`), 0o644)
	out, _, code := w.cairn(nil, "run", "fail", "--file", rb, "--yes", "--no-tui", "--on-failure", "rollback")
	if code != 5 {
		t.Fatalf("want exit 5 (rolled back), got %d\n%s", code, out)
	}
	if i, j := strings.Index(out, "[two] rolled back"), strings.Index(out, "[one] rolled back"); i < 0 || j < 0 || i > j {
		t.Fatalf("rollback order wrong:\n%s", out)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname IN ('t_one','t_two')"); n != 0 {
		t.Fatalf("%d tables left after rollback", n)
	}
}

// `cairn rollback <id>` walks back a finished run and its view waits for that rollback to end (not
// for the finish of the run before it).
func TestRollbackAFinishedRun(t *testing.T) {
	w := newWorld(t)
	role := testbed.UniqueName(t, "rb")
	env := []string{"CAIRN_ROLE_PASSWORD=pw"}
	if out, _, code := w.cairn(env, "run", "sample-role", "-p", "role="+role, "--yes", "--no-tui"); code != 0 {
		t.Fatalf("run: %d\n%s", code, out)
	}
	run := w.onlyRun()
	out, errOut, code := w.cairn(env, "rollback", run.ID, "--yes", "--no-tui")
	if code != 0 || !strings.Contains(out, "run ROLLED-BACK") {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	if i, j := strings.Index(out, "[grant-read] rolled back"), strings.Index(out, "[create-role] rolled back"); i < 0 || j < 0 || i > j {
		t.Fatalf("rollback order:\n%s", out)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = $1", role); n != 0 {
		t.Fatal("role still there after rollback")
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_namespace WHERE nspname = $1", role+"_data"); n != 0 {
		t.Fatal("schema still there after rollback")
	}
}
