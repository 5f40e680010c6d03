package root_test

import (
	"fmt"
	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmd/plan"
	"regexp"
	"strings"
	"testing"
)

// `cairn plan rds-encrypt --check` with AWS unreachable overclaims nothing: every AWS step cannot
// tell (in the transport error's own words), none is blocked or already done, and the logical
// strategy's steps are not on this path — counted as such in the headline, not as done.
func TestPlanCheckUnreachableAWS(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1") // nothing listens on port 1
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	t.Setenv("AWS_MAX_ATTEMPTS", "1")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	s, _, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": t.TempDir()}, plan.NewCmdPlan, "rds-encrypt", "-p", "instance=app-db", "-p", "kms-key=alias/cairn-demo", "--check")
	if err != nil {
		t.Fatal(err)
	}
	head := regexp.MustCompile(`(?m)^## \d+\. (\S+) — .*\n(?:   \((?:typed )?confirmation.*\n)?   check: ([a-z ]+?)(?: — (.*))?$`)
	status := map[string]string{}
	counts := map[string]int{}
	refused := 0
	for _, m := range head.FindAllStringSubmatch(s, -1) {
		status[m[1]] = m[2]
		counts[m[2]]++
		if strings.Contains(m[3], "connection refused") {
			refused++
			if m[2] != "cannot tell" {
				t.Errorf("step %s: an unreachable endpoint is %q, want cannot tell", m[1], m[2])
			}
		}
	}
	if len(status) < 20 {
		t.Fatalf("only %d checked steps found in:\n%s", len(status), s)
	}
	for _, id := range []string{"preflight", "snapshot", "rename-source", "rename-target", "delete-old"} {
		if status[id] != "cannot tell" {
			t.Errorf("AWS step %s: %q, want cannot tell", id, status[id])
		}
	}
	// the other strategy's steps: their condition opens with strategy == "logical"
	other := regexp.MustCompile(`(?m)^## \d+\. (\S+) — .*\n(?:   \((?:typed )?confirmation.*\n)?   check: .*\n` + "```" + `\n# only when \$\{params\.strategy\} == "logical"`)
	n := 0
	for _, m := range other.FindAllStringSubmatch(s, -1) {
		n++
		if status[m[1]] != "not on this path" {
			t.Errorf("logical step %s (strategy snapshot-copy): %q, want not on this path", m[1], status[m[1]])
		}
	}
	if n < 8 {
		t.Errorf("only %d of the logical strategy's steps found", n)
	}
	if refused < 4 {
		t.Errorf("%d steps quote the transport error; want every AWS step that reads:\n%s", refused, s)
	}
	if counts["already done"]+counts["blocked"] != 0 {
		t.Errorf("an unreachable AWS is claimed done or blocked: %v\n%s", counts, s)
	}
	want := fmt.Sprintf("Plan: %d to apply, 0 already done, %d not on this path, 0 blocked, %d cannot tell, %d checked at run time.",
		counts["to apply"], counts["not on this path"], counts["cannot tell"], counts["checked at run time"])
	if !strings.Contains(s, want) {
		t.Errorf("headline: want %q in:\n%s", want, s)
	}
}
