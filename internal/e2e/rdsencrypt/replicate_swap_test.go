package rdsencrypt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/twin"
)

// Strategy replicate on the demo instance, end to end through the CLI: the parameter group and the
// reboot, the encrypted instance, publications and subscriptions, the sync wait, the quiesce, the
// cut-over and the swap; the downtime measured and in the report; the application's data, roles and
// grants as they were; no slot or publication left on the old instance.
func TestReplicateSwap(t *testing.T) {
	r := newRig(t)
	before := r.fingerprint(twin.DemoInstance)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=replicate", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	out, code := r.cairn(append(args, "--yes", "--confirm", "reboot="+twin.DemoInstance)...)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, r.runnerLog())
	}
	if !strings.Contains(out, "downtime ") {
		t.Errorf("no downtime in the output:\n%s", out)
	}
	found, enc, key, _, _ := r.instance(twin.DemoInstance)
	if !found || !enc || key != r.keyARN() {
		t.Fatalf("%s: found=%v encrypted=%v key=%s", twin.DemoInstance, found, enc, key)
	}
	if after := r.fingerprint(twin.DemoInstance); after != before {
		t.Fatalf("the application differs after the rebuild:\n%s", lineDiff(before, after))
	}
	old := r.superuser(twin.DemoInstance+"-unencrypted", "app")
	defer old.Close(context.Background())
	var slots int
	if err := old.QueryRow(context.Background(), "SELECT count(*) FROM pg_replication_slots").Scan(&slots); err != nil || slots != 0 {
		t.Errorf("%d slots left on the old instance (%v)", slots, err)
	}
	runs := r.runs()
	rep, _ := r.cairn("report", runs[len(runs)-1].ID)
	i := strings.Index(rep, "- Downtime: ")
	if i < 0 {
		t.Fatalf("the report does not show the downtime:\n%s", rep)
	}
	t.Log(strings.SplitN(rep[i:], "\n", 2)[0])
}
