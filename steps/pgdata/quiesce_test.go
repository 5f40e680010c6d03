package pgdata_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// A login role a DBA had disabled (CONNECTION LIMIT 0) before the run is not the application: the
// quiesce's check says so and still asks to block the others, and the quiesce, its lift and its
// rollback leave it at 0. A quiesce killed after blocking some roles (its state never reached the
// journal) is told apart by the record it wrote on the server: the next apply keeps the limits it
// recorded, and a rollback with no state puts them back.
func TestQuiesceKeepsADBAsDisabledRoleAndSurvivesAKill(t *testing.T) {
	ctx := context.Background()
	pg := testbed.Postgres(t)
	pg.Exec(t, "postgres", "CREATE DATABASE shop")
	pg.Exec(t, "postgres", `CREATE ROLE app_rw LOGIN CONNECTION LIMIT 20;
		CREATE ROLE app_ro LOGIN;
		CREATE ROLE old_app LOGIN CONNECTION LIMIT 0;`)
	conn := pg.ConnString("postgres", "postgres")
	reg := all.Registry()
	limits := func() string {
		var out []string
		for _, r := range []string{"app_ro", "app_rw", "old_app"} {
			out = append(out, fmt.Sprintf("%s=%d", r, pg.QueryInt(t, "postgres", "SELECT rolconnlimit FROM pg_roles WHERE rolname = $1", r)))
		}
		return strings.Join(out, " ")
	}
	const before = "app_ro=-1 app_rw=20 old_app=0"
	quiesce := steptest.Decode(t, reg, "pg-quiesce", `source: { conn: "`+conn+`" }`)
	lift := steptest.Decode(t, reg, "pg-quiesce", `source: { conn: "`+conn+`" }
lift: true
state: "${steps.quiesce.state}"
`)

	env := steptest.Env(t, nil)
	env.RunID, env.StepID = "run-1", "quiesce"
	ch := quiesce.Check(ctx, env)
	if ch.State != steps.Ready || !strings.Contains(ch.Reason, "block 2 application roles (app_ro, app_rw)") || !strings.Contains(ch.Reason, "old_app is at CONNECTION LIMIT 0") {
		t.Fatalf("check before the quiesce: %s (%s)", ch.State, ch.Reason)
	}
	out, err := quiesce.Apply(ctx, env)
	if err != nil {
		t.Fatal(err)
	}
	if got := limits(); got != "app_ro=0 app_rw=0 old_app=0" {
		t.Fatalf("after the quiesce: %s", got)
	}
	if r := out["roles"].Value; r != "app_ro,app_rw" {
		t.Errorf("the quiesce's roles: %q, want the application's only", r)
	}
	if ch := quiesce.Check(ctx, env); ch.State != steps.Done || !strings.Contains(ch.Reason, "old_app") {
		t.Fatalf("check after the quiesce: %s (%s)", ch.State, ch.Reason)
	}
	// The cut-back's lift, given the quiesce's state.
	lenv := steptest.Env(t, map[string]string{"steps.quiesce.state": out["state"].Value})
	if ch := lift.Check(ctx, lenv); ch.State != steps.Ready || !strings.Contains(ch.Reason, "let app_ro, app_rw connect again") {
		t.Fatalf("lift's check: %s (%s)", ch.State, ch.Reason)
	}
	if _, err := lift.Apply(ctx, lenv); err != nil {
		t.Fatal(err)
	}
	if got := limits(); got != before {
		t.Fatalf("after quiesce and lift: %s, want %s", got, before)
	}
	if txt := lenv.Out.(*steptest.Sink).Text(); strings.Contains(txt, "old_app may connect") {
		t.Fatalf("the lift let the DBA's disabled role in:\n%s", txt)
	}
	if ch := lift.Check(ctx, lenv); ch.State != steps.Done {
		t.Fatalf("second lift check: %s (%s)", ch.State, ch.Reason)
	}
	if n := pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_namespace WHERE nspname = 'cairn'"); n != 0 {
		t.Errorf("the lift left the emptied record's schema behind")
	}

	// A quiesce killed right after it blocked app_rw: nothing in the journal, app_rw at 0.
	if err := pgdata.QuiesceKilledAfterBlock(ctx, conn, map[string]int{"app_rw": 20}, "run-2"); err != nil {
		t.Fatal(err)
	}
	env2 := steptest.Env(t, nil)
	env2.RunID, env2.StepID = "run-2", "quiesce"
	ch = quiesce.Check(ctx, env2)
	if ch.State != steps.Ready || !strings.Contains(ch.Reason, "block 1 application roles (app_ro)") {
		t.Fatalf("check after the killed quiesce: %s (%s)", ch.State, ch.Reason)
	}
	// Its rollback, rebuilt without the quiesce's state, puts back what the server's record holds.
	if err := quiesce.Rollback(ctx, env2); err != nil {
		t.Fatal(err)
	}
	if got := limits(); got != before {
		t.Fatalf("after the killed quiesce's rollback: %s, want %s", got, before)
	}
	// Killed again, then resumed: the apply keeps app_rw's recorded 20, not "-1, unknown".
	if err := pgdata.QuiesceKilledAfterBlock(ctx, conn, map[string]int{"app_rw": 20}, "run-2"); err != nil {
		t.Fatal(err)
	}
	out, err = quiesce.Apply(ctx, env2)
	if err != nil {
		t.Fatal(err)
	}
	if s := out["state"].Value; !strings.Contains(s, `"app_rw":20`) || !strings.Contains(s, `"app_ro":-1`) || strings.Contains(s, "old_app") {
		t.Fatalf("the resumed quiesce's state: %s", s)
	}
	// What the old instance's final snapshot tells its restore to run (snapshot taken quiesced):
	// run by hand, it lets exactly the blocked roles in again, with their limits from before.
	sql := out["lift-sql"].Value
	if !strings.Contains(sql, `ALTER ROLE "app_ro" CONNECTION LIMIT -1; ALTER ROLE "app_rw" CONNECTION LIMIT 20;`) || strings.Contains(sql, "old_app") {
		t.Fatalf("the quiesce's lift-sql: %s", sql)
	}
	pg.Exec(t, "postgres", sql)
	if got := limits(); got != before {
		t.Fatalf("after the quiesce's lift-sql: %s, want %s", got, before)
	}
	if n := pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_namespace WHERE nspname = 'cairn'"); n != 0 {
		t.Errorf("the lift-sql left the record's schema behind")
	}
}
