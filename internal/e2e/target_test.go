package e2e

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// The plan and the journal say unmistakably what a run targets: the twin (by its STS account), or
// the local host when no AWS is configured.
func TestTargetIsUnmistakable(t *testing.T) {
	w := newWorld(t)
	out, _, code := w.cairn([]string{"AWS_ENDPOINT_URL=", "AWS_PROFILE=", "AWS_REGION=", "AWS_DEFAULT_REGION=", "AWS_ACCESS_KEY_ID="}, "plan", "sample-role", "-p", "role=x")
	if code != 0 || !strings.Contains(out, "Target: local host") {
		t.Fatalf("no AWS: %d\n%s", code, out)
	}
	tw := testbed.Twin(t, testbed.TwinOptions{})
	out, _, code = w.cairn(tw.Env, "plan", "sample-role", "-p", "role=x")
	if code != 0 || !strings.Contains(out, "Target: rehearsal twin at "+tw.Endpoint+" (account 000000000000)") {
		t.Fatalf("twin: %d\n%s", code, out)
	}
	out, _, code = w.cairn(append(tw.Env, "CAIRN_ROLE_PASSWORD=x"), "run", "sample-role", "-p", "role="+testbed.UniqueName(t, "tg"), "--yes", "--no-tui")
	if code != 0 || !strings.Contains(out, "target: rehearsal twin at") {
		t.Fatalf("run on the twin: %d\n%s", code, out)
	}
}
