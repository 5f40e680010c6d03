package rdsencrypt_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// Strategy replicate on the demo instance, end to end through the CLI: --yes alone prepares and
// stops before the window (the quiesce's typed confirmation), the application still working; resumed
// with it, the run goes on. The parameter group and the reboot, the encrypted instance, publications and subscriptions, the sync wait, the quiesce, the
// cut-over and the swap; the downtime measured and in the report; the application's data, roles and
// grants as they were; no slot or publication left on the old instance.
func TestReplicateSwap(t *testing.T) {
	r := newRig(t)
	before := r.fingerprint(twin.DemoInstance)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=replicate", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	// --yes prepares and stops at the window's start: the quiesce waits for its typed confirmation
	out, code := r.cairn(append(args, "--yes", "--confirm", "reboot="+twin.DemoInstance)...)
	run := r.runs()[0]
	next := "`cairn resume " + run.ID + " --confirm " + openWindow + "`"
	if code != 4 || !strings.Contains(out, next) {
		t.Fatalf("run with --yes alone: exit %d, want 4 naming %s\n%s\n%s", code, next, out, r.runnerLog())
	}
	recs, _ := journal.ReadAll(run)
	if !has(recs, events.StepVerified, "compare") || has(recs, events.StepApplying, "quiesce") {
		t.Fatalf("want the preparation done through compare and the quiesce not begun:\n%s", out)
	}
	c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		t.Fatalf("before the window the application role cannot log in: %v", err)
	}
	c.Close(context.Background())
	out, code = r.cairn("resume", run.ID, "--no-tui", "--yes", "--confirm", openWindow)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("resume with the window's confirmation: exit %d\n%s\n%s", code, out, r.runnerLog())
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
	// The window ends when app-db answers as the new instance: the rename returns then, the
	// downtime is measured right after, and only then is "available" waited for and proved.
	recs, _ = journal.ReadAll(run)
	var order []string
	for _, e := range recs {
		if e.Type == events.StepVerified && slices.Contains([]string{"rename-source", "rename-target", "downtime", "rename-target-available", "delete-old"}, e.Step) {
			order = append(order, e.Step)
		}
	}
	if got := strings.Join(order, " → "); got != "rename-source → rename-target → downtime → rename-target-available" {
		t.Errorf("the swap's steps verified in the order %s, want rename-source → rename-target → downtime → rename-target-available (keep-old: no delete-old)", got)
	}
	rep, _ := r.cairn("report", run.ID)
	i := strings.Index(rep, "- Downtime: ")
	if i < 0 {
		t.Fatalf("the report does not show the downtime:\n%s", rep)
	}
	t.Log(strings.SplitN(rep[i:], "\n", 2)[0])
}

// Strategy replicate with cutover=external: no rename — once the cut-over is done, the engineer
// points the application at the new instance (here: the application role writes to app-db-enc) and
// the run ends on that first write, with the downtime measured to it.
func TestReplicateExternalCutover(t *testing.T) {
	r := newRig(t)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=replicate", "cutover=external", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	if out, code := r.cairn(append(args, "--yes", "--confirm", openWindow, "--confirm", "reboot="+twin.DemoInstance, "--detach")...); code != 0 {
		t.Fatalf("detached run: exit %d\n%s", code, out)
	}
	run := r.runs()[0]
	r.waitJournal(run, "the wait for the first write", func(e []events.Event) bool { return has(e, events.StepApplying, "downtime-external") })
	_, _, _, host, port := r.instance(twin.DemoInstance + "-enc")
	c, err := pgx.Connect(context.Background(), fmt.Sprintf("host=%s port=%d dbname=app user=app_rw password=app-rw-demo sslmode=require", host, port))
	if err != nil {
		t.Fatalf("the application cannot reach the new instance: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "INSERT INTO audit.events (actor, what) VALUES ('app', 'first write on the new instance')"); err != nil {
		t.Fatal(err)
	}
	r.waitJournal(run, "the run's end", func(e []events.Event) bool { return has(e, events.RunFinished, "") })
	rep, _ := r.cairn("report", run.ID)
	i := strings.Index(rep, "- Downtime: ")
	if i < 0 || !strings.Contains(rep, "succeeded") {
		t.Fatalf("the run did not succeed with a downtime:\n%s\n%s", rep, r.runnerLog())
	}
	t.Log(strings.SplitN(rep[i:], "\n", 2)[0])
	if found, enc, _, _, _ := r.instance(twin.DemoInstance); !found || enc {
		t.Errorf("the old instance under its name: found=%v encrypted=%v, want it there, unencrypted (no rename)", found, enc)
	}
}
