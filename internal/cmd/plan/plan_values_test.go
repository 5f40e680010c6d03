package plan

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

// A plan never shows a blank or a •••• standing for nothing: a secret nobody gave says so and names
// its variable, an empty region says where the SDK takes it from, other empty values are "(not
// set)", and the run id a guard will compare with is a placeholder until the run exists. A secret
// that was given is still ••••.
func TestPlanShowsWhatIsNotSet(t *testing.T) {
	args := []string{"rds-encrypt", "-p", "instance=app-db", "-p", "kms-key=alias/cairn-demo"}
	out, _, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": t.TempDir()}, NewCmdPlan, args...)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"- master-password = (not set: $CAIRN_MASTER_PASSWORD is empty)\n",
		"- region = (not set: the AWS configuration's default — AWS_REGION or the profile's region)\n",
		"- passwords-secret = (not set)\n",
		"tagged cairn:run-id=<this run's id> (made by this run",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	for _, bad := range []string{" = \n", "cairn:run-id= ", "- master-password = ••••"} {
		if strings.Contains(out, bad) {
			t.Errorf("plan shows %q:\n%s", bad, out)
		}
	}
	out, _, err = cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": t.TempDir(), "CAIRN_MASTER_PASSWORD": "hunter2"}, NewCmdPlan, args...)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "- master-password = ••••\n") || strings.Contains(out, "hunter2") {
		t.Errorf("a given secret is not ••••:\n%s", out)
	}
}
