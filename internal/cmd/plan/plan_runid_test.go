package plan

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

// The replicate plan's tags and the parameter group's description name the run id by its
// placeholder, as every other guard does — never an empty tag value or "(none)"; the encrypted
// instance is named by the target parameter, known before the run (replicate never keeps the
// source's identifier), not "(known after apply)".
func TestReplicatePlanNamesTheRunIDByItsPlaceholder(t *testing.T) {
	out, _, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": t.TempDir()}, NewCmdPlan,
		"rds-encrypt", "-p", "strategy=replicate", "-p", "instance=app-db", "-p", "kms-key=alias/cairn-demo")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"cairn:run-id=<this run's id>,", "DBInstanceIdentifier: app-db-enc\n", "[sql → app-db-enc]", "[sql → instance app-db and instance app-db-enc]", "cairn run <this run's id>: <the instance's group> with rds.logical_replication=1"} {
		if !strings.Contains(out, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	for _, bad := range []string{"cairn:run-id=,", "cairn run (none)"} {
		if strings.Contains(out, bad) {
			t.Errorf("plan shows %q", bad)
		}
	}
	_, prep, _ := strings.Cut(out, "replica-create —") // replicate's steps up to the wait (the logical ones, off this path, build under the preflight's build-id)
	prep, _, _ = strings.Cut(prep, "sync-wait —")
	for _, bad := range []string{"DBInstanceIdentifier: (known after apply)", "instance (known after apply)", "→ (known after apply)"} {
		if prep == "" || strings.Contains(prep, bad) {
			t.Errorf("replicate's preparation shows %q:\n%s", bad, prep)
		}
	}
}
