package rdsencrypt_test

import (
	"testing"

	"github.com/cairn-runbooks/cairn/internal/loadgen"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// replicateArgs is a run of strategy=replicate that keeps the old instance (the counts are compared
// with it), with the application roles' passwords in a secret and the reboot confirmed.
func (r *rig) replicateArgs() []string {
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=replicate", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	return append(args, "--yes", "--confirm", openWindow, "--confirm", "reboot="+twin.DemoInstance)
}

// replicatedUnderWriter is what a replicate run under the application's writes must end with:
// the new, encrypted instance under the original name holds every order the application saw
// committed with its last status, the sequence is not behind, every table's rows match the old
// instance's (but for the orders written after the cut-over), no step was applied twice — and the
// application wrote while the replication ran (between the reboot and the cut-over), so those
// rows came by the replication, not by a copy inside the window.
func (r *rig) replicatedUnderWriter(app *appWriter, rec *loadgen.Record) {
	r.t.Helper()
	if found, enc, key, _, _ := r.instance(twin.DemoInstance); !found || !enc || key != r.keyARN() {
		r.t.Fatalf("%s: found=%v encrypted=%v key=%s, want encrypted with %s", twin.DemoInstance, found, enc, key, r.keyARN())
	}
	r.noneLost(app, rec)
	r.countsEqual(twin.DemoInstance+"-unencrypted", rec)
	during := 0
	for _, c := range rec.Commits {
		if c.After > 0 && c.After < len(rec.Outages) {
			during++
		}
	}
	if during == 0 {
		r.t.Fatalf("no order was committed between the reboot and the cut-over (outages %s): the replication carried no live write", outages(rec))
	}
}

// Strategy replicate with the application writing through app-db's endpoint throughout, and the
// runner SIGKILLed while it waits for the subscriptions to catch up: `cairn resume` completes and
// nothing the application committed is lost.
//
// The demo data has syncWaitRows rows, so that the initial copy is still running when the sync
// wait's check looks (with the usual 3 000 it had caught up by then on a loaded machine, the check
// found the step done, and there was no wait to kill).
func TestReplicateUnderWriterKilledInSyncWait(t *testing.T) {
	r := newRigRows(t, syncWaitRows)
	app, rec := r.killedUnderWriter("sync-wait", r.replicateArgs())
	r.replicatedUnderWriter(app, rec)
}

// syncWaitRows is the demo data's size for the kill in the sync wait.
const syncWaitRows = 200000

// Strategy replicate with the application writing throughout, and the runner SIGKILLed inside the
// window, during the cut-over (the last WAL applied, sequences, counts, schemas, the replication
// dropped): `cairn resume` completes and nothing the application committed is lost.
func TestReplicateUnderWriterKilledInCutOver(t *testing.T) {
	r := newRig(t)
	app, rec := r.killedUnderWriter("cutover", r.replicateArgs())
	r.replicatedUnderWriter(app, rec)
}
