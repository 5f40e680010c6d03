package generic_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func TestExecContract(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "flag file")
	st := steptest.Decode(t, all.Registry(), "exec", `
argv: [touch, "${params.path}"]
check: {argv: [test, -e, "${params.path}"]}
verify: {argv: [test, -f, "${params.path}"]}
rollback: {argv: [rm, -f, "${params.path}"]}
`)
	env := steptest.Env(t, map[string]string{"path": target})
	steptest.Run(t, steptest.Case{
		Step: st, Env: env,
		Probe: func(t testing.TB) string {
			_, err := os.Stat(target)
			return fmt.Sprintf("exists: %v", err == nil)
		},
		Tamper:      func(t testing.TB) { os.Remove(target) },
		NoLookAlike: "done is whatever the runbook's own check command says; the kind has no address of its own to plant at",
	})
}

func TestExecArgvIsNeverSplitAndSecretsStayOut(t *testing.T) {
	st := steptest.Decode(t, all.Registry(), "exec", `
argv: [printf, "%s|", "${params.words}", "two"]
`)
	env := steptest.Env(t, map[string]string{"words": "one ; rm -rf /tmp/x $(id)"})
	out, err := st.Apply(context.Background(), env)
	if err != nil {
		t.Fatal(err)
	}
	if out["stdout"].Value != "one ; rm -rf /tmp/x $(id)|two|" {
		t.Fatalf("argv was split or interpreted: %q", out["stdout"].Value)
	}
	bad := steptest.Decode(t, all.Registry(), "exec", `argv: [echo, "${params.pw}"]`)
	_, err = bad.Apply(context.Background(), steptest.Env(t, map[string]string{"secret:pw": "x"}))
	if err == nil || !strings.Contains(err.Error(), "never argv") {
		t.Fatalf("secret in argv accepted: %v", err)
	}
	viaEnv := steptest.Decode(t, all.Registry(), "exec", `{argv: [sh, -c, 'test "$PW" = "$WANT"'], env: {PW: "${params.pw}", WANT: "${params.want}"}}`)
	if _, err := viaEnv.Apply(context.Background(), steptest.Env(t, map[string]string{"secret:pw": `s e"cret`, "want": `s e"cret`})); err != nil {
		t.Fatalf("secret via env: %v", err)
	}
	d := viaEnv.Describe(steptest.Env(t, map[string]string{"secret:pw": `s e"cret`, "want": "x"}))
	if strings.Contains(d[0].Text, "cret") || !strings.Contains(d[0].Text, "PW=••••") {
		t.Fatalf("describe shows secret: %s", d[0].Text)
	}
}

func TestExecFailureSaysWhy(t *testing.T) {
	st := steptest.Decode(t, all.Registry(), "exec", `argv: [sh, -c, "echo boom >&2; exit 3"]`)
	_, err := st.Apply(context.Background(), steptest.Env(t, nil))
	if err == nil || !strings.Contains(err.Error(), "status 3") || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("error: %v", err)
	}
	if err := st.Rollback(context.Background(), steptest.Env(t, nil)); !steps.IsNotReversible(err) {
		t.Fatalf("rollback without a command must say it cannot: %v", err)
	}
}

func TestWaitOnARealDatabase(t *testing.T) {
	pg := testbed.Postgres(t)
	pg.Exec(t, "postgres", "CREATE TABLE gate (open bool); INSERT INTO gate VALUES (false)")
	st := steptest.Decode(t, all.Registry(), "wait", `
conn: "${params.conn}"
query: SELECT open FROM gate
interval: 50ms
timeout: 10s
what: the gate to open
`)
	env := steptest.Env(t, map[string]string{"conn": pg.ConnString("postgres", pg.Superuser)})
	if ch := st.Check(context.Background(), env); ch.State != steps.Ready {
		t.Fatalf("check: %+v", ch)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		pg.Exec(t, "postgres", "UPDATE gate SET open = true")
	}()
	if _, err := st.Apply(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if err := st.Verify(context.Background(), env); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(env.Out.(*steptest.Sink).Text(), "Still waiting for the gate to open") {
		t.Fatal("no still-waiting line")
	}
	short := steptest.Decode(t, all.Registry(), "wait", `{command: {argv: ["false"]}, interval: 20ms, timeout: 100ms}`)
	if _, err := short.Apply(context.Background(), steptest.Env(t, nil)); err == nil || !strings.Contains(err.Error(), "gave up waiting") {
		t.Fatalf("timeout: %v", err)
	}
}

// wait and manual change nothing: they pass the read-only contract (a wait whose condition holds,
// a checklist the engineer ticks).
func TestWaitAndManualReadOnlyContract(t *testing.T) {
	dir := t.TempDir()
	probe := func(t testing.TB) string {
		es, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d entries", len(es))
	}
	wait := steptest.Decode(t, all.Registry(), "wait", `{command: {argv: ["test", "-d", "${params.dir}"]}, interval: 20ms, timeout: 10s}`)
	steptest.RunReadOnly(t, steptest.Case{Step: wait, Env: steptest.Env(t, map[string]string{"dir": dir}), Probe: probe,
		NoLookAlike: "its proof is the condition itself, evaluated live each time; it keeps no artifact to fake"}, nil)
	manual := steptest.Decode(t, all.Registry(), "manual", `items: ["Announce the window"]`)
	steptest.RunReadOnly(t, steptest.Case{Step: manual, Env: steptest.Env(t, nil), Probe: probe,
		NoLookAlike: "a person ticks the checklist; Check never says done (nothing a machine can read)"}, nil)
}

func TestManualAsksAndCannotBeChecked(t *testing.T) {
	st := steptest.Decode(t, all.Registry(), "manual", `items: ["Announce ${params.x}"]`)
	env := steptest.Env(t, map[string]string{"x": "the window"})
	var asked []string
	env.Ask = func(ctx context.Context, q steps.Question) (steps.Answer, error) {
		asked = q.Items
		return steps.Answer{Yes: false}, nil
	}
	if ch := st.Check(context.Background(), env); ch.State != steps.Unknown {
		t.Fatalf("manual check: %s", ch.State)
	}
	if _, err := st.Apply(context.Background(), env); err == nil {
		t.Fatal("an unticked checklist passed")
	}
	if len(asked) != 1 || asked[0] != "Announce the window" {
		t.Fatalf("asked %v", asked)
	}
}
