package plan

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// `cairn plan rds-encrypt --check` on a fresh demo twin judges each step only as far as the world
// it can see: once a step that changes something is still to apply, no later step that acts on the
// same things is called already done or blocked — the copy to open and the name to take do not
// exist yet — it is checked at run time, after the step it waits on. A real refusal with nothing
// pending before it (a look-alike snapshot another run left) stays blocked.
func TestPlanCheckWaitsOnEarlierSteps(t *testing.T) {
	tb := testbed.StartTwinSDK(t)
	plan := func(wantCode int) (order []string, status, reason map[string]string, out string) {
		t.Helper()
		env := map[string]string{"CAIRN_STATE_DIR": t.TempDir()}
		for _, kv := range os.Environ() { // the twin's endpoint and CA bundle
			k, v, _ := strings.Cut(kv, "=")
			env[k] = v
		}
		o, _, err := cmdtest.Output(env, NewCmdPlan, "rds-encrypt", "-p", "instance=app-db", "-p", "kms-key=alias/cairn-demo",
			"-p", "credentials-secret=cairn/app-db/master", "-p", "keep-old=true", "--check")
		code := 0
		var ec *exitcode.Err
		if errors.As(err, &ec) {
			code = ec.Code
		} else if err != nil {
			t.Fatal(err)
		}
		if code != wantCode {
			t.Fatalf("plan --check: exit %d (%v), want %d", code, err, wantCode)
		}
		head := regexp.MustCompile(`(?m)^## \d+\. (\S+) — .*\n(?:   \((?:typed )?confirmation.*\n)?   check: ([a-z ]+?)(?: — (.*))?$`)
		status, reason = map[string]string{}, map[string]string{}
		for _, m := range head.FindAllStringSubmatch(o, -1) {
			order = append(order, m[1])
			status[m[1]], reason[m[1]] = m[2], m[3]
		}
		return order, status, reason, o
	}

	order, status, reason, out := plan(0)
	if status["quiesce"] != "to apply" {
		t.Fatalf("quiesce on a fresh twin: %q, want to apply:\n%s", status["quiesce"], out)
	}
	after := false
	for _, id := range order {
		if after && (status[id] == "already done" || status[id] == "blocked") {
			t.Errorf("step %s follows the quiesce still to apply but is %q — %s", id, status[id], reason[id])
		}
		after = after || id == "quiesce"
	}
	for id, waits := range map[string]string{"open-target": "restore-encrypted", "rename-target": "rename-source"} {
		if status[id] != "checked at run time" || !strings.HasPrefix(reason[id], "after "+waits+" — as things stand: ") {
			t.Errorf("%s: %q — %s; want checked at run time — after %s", id, status[id], reason[id], waits)
		}
	}
	if !regexp.MustCompile(` 0 already done, \d+ not on this path, 0 blocked, .* 2 checked at run time\.`).MatchString(out) {
		t.Errorf("headline does not count the steps checked at run time:\n%s", out[strings.LastIndex(out, "Plan:"):])
	}

	// another run's snapshot under the name this run will take: a refusal nothing before it can change
	if _, err := tb.RDS.CreateDBSnapshot(context.Background(), &awsrds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String("app-db"), DBSnapshotIdentifier: aws.String("app-db-pre-kms"),
	}); err != nil {
		t.Fatal(err)
	}
	_, status, reason, out = plan(exitcode.Blocked) // a scripted gate before the window fails
	if status["preflight"] != "blocked" || !strings.Contains(reason["preflight"], "app-db-pre-kms") {
		t.Errorf("preflight with app-db-pre-kms taken: %q — %s; want blocked naming it:\n%s", status["preflight"], reason["preflight"], out)
	}
}
