package rdsencrypt_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/twin"
)

// checkFinal proves the end state: the original identifier answers, encrypted with the chosen key;
// the application's data, roles and grants are what they were; the secret's credentials log in.
func checkFinal(t *testing.T, r *rig, before string, kept ...string) {
	t.Helper()
	found, enc, key, _, _ := r.instance(twin.DemoInstance)
	if !found || !enc || key != r.keyARN() {
		t.Fatalf("%s: found=%v encrypted=%v key=%s, want encrypted with %s", twin.DemoInstance, found, enc, key, r.keyARN())
	}
	if after := r.fingerprint(twin.DemoInstance); after != before {
		t.Fatalf("the application differs after the rebuild:\n%s", lineDiff(before, after))
	}
	for _, gone := range []string{twin.DemoInstance + "-unencrypted", twin.DemoInstance + "-enc"} {
		if found, _, _, _, _ := r.instance(gone); found && !slices.Contains(kept, gone) {
			t.Errorf("%s still exists", gone)
		}
	}
	c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		t.Fatalf("the application role cannot log in: %v", err)
	}
	defer c.Close(context.Background())
	if _, err := c.Exec(context.Background(), "INSERT INTO audit.events (actor, what) VALUES ('app', 'after the rebuild')"); err != nil {
		t.Fatalf("the application role cannot write: %v", err)
	}
}

// Strategy snapshot-copy on the demo instance, with the runner SIGKILLed while it waits for the
// snapshot: `cairn resume` finishes, no step is applied twice, the data is all there, encrypted.
func TestSnapshotCopyKilledWhileSnapshotting(t *testing.T) {
	r := newRig(t)
	before := r.fingerprint(twin.DemoInstance)
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=snapshot-copy")...)
	args = append(args, "--yes", "--confirm", openWindow, "--confirm", "delete-old="+twin.DemoInstance)
	run := r.killDuring("snapshot", 0, args...)
	out, code := r.cairn("resume", run.ID, "--yes", "--confirm", openWindow, "--no-tui", "--confirm", "delete-old="+twin.DemoInstance)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, r.runnerLog())
	}
	r.noStepRepeated(run)
	checkFinal(t, r, before)
	if _, err := r.rds.DescribeDBSnapshots(context.Background(), &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(twin.DemoInstance + "-final-unencrypted")}); err != nil {
		t.Errorf("the old instance's final snapshot is missing: %v", err)
	}
	// It was taken quiesced: the delete says so, with what lets the application in on a restore.
	if !strings.Contains(out, "final snapshot "+twin.DemoInstance+"-final-unencrypted: the application roles are blocked in it") || !strings.Contains(out, `ALTER ROLE "app_rw" CONNECTION LIMIT -1;`) {
		t.Errorf("the delete did not say the final snapshot holds the roles blocked, with the ALTER ROLEs:\n%s", out)
	}
	rollbackSucceededIsRefused(t, r, run.ID)
}

// rollbackSucceededIsRefused: `cairn rollback` of a run that succeeded (the old instance deleted)
// is refused before anything starts, saying why and what to do; with --after-success the cut-back
// runs but its delete of the serving instance is blocked — the old instance it would give the
// name back to is gone — and the encrypted instance still serves.
func rollbackSucceededIsRefused(t *testing.T, r *rig, id string) {
	t.Helper()
	serving := func(when string) {
		if found, enc, _, _, _ := r.instance(twin.DemoInstance); !found || !enc {
			t.Fatalf("%s: %s is found=%v encrypted=%v, want the encrypted instance serving", when, twin.DemoInstance, found, enc)
		}
		c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
		if err != nil {
			t.Fatalf("%s: the application cannot log in: %v", when, err)
		}
		_ = c.Close(context.Background())
	}
	out, code := r.cairn("rollback", id, "--yes", "--no-tui")
	if code == 0 || !strings.Contains(out, "is not rolled back: it applied delete-old") || !strings.Contains(out, "--after-success") || strings.Contains(out, "cutting back") {
		t.Fatalf("rollback of a succeeded run: exit %d, want it refused naming delete-old and --after-success\n%s", code, out)
	}
	serving("after the refused rollback")
	out, code = r.cairn("rollback", id, "--after-success", "--yes", "--no-tui")
	if code == 0 || !strings.Contains(out, "the way back is gone: instance "+twin.DemoInstance+"-unencrypted") {
		t.Fatalf("rollback --after-success with the old instance gone: exit %d, want cut-delete-new blocked\n%s\n%s", code, out, r.runnerLog())
	}
	serving("after the blocked cut-back")
}

// Strategy logical, keeping the identifier (the seed's way), with the runner SIGKILLed while it
// restores the databases: `cairn resume` finishes, no step is applied twice, rows are verified.
func TestLogicalKeepIdentifierKilledWhileRestoring(t *testing.T) {
	r := newRig(t)
	before := r.fingerprint(twin.DemoInstance)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=logical", "keep-identifier=true", "passwords-secret=cairn/app-db/roles", "checksums=true")...)
	args = append(args, "--yes", "--confirm", openWindow, "--confirm", "delete-source="+twin.DemoInstance)
	run := r.killDuring("restore-databases", 150*time.Millisecond, args...)
	out, code := r.cairn("resume", run.ID, "--yes", "--confirm", openWindow, "--no-tui", "--confirm", "delete-source="+twin.DemoInstance)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("resume: exit %d\n%s\n%s", code, out, r.runnerLog())
	}
	if !strings.Contains(out, "row counts and checksums equal on the target and in the manifest") {
		t.Errorf("no row verification in the output:\n%s", out)
	}
	r.noStepRepeated(run)
	checkFinal(t, r, before)
	r.neverWritten(twin.DemoPassword, "app-rw-demo")
}

// Strategy logical with a temporary identifier, the data streamed straight to the target, and a
// swap, the old instance kept. Then the application writes to the new instance, and the cut-back
// of the succeeded run (--after-success) deletes it only on its identifier typed — which --yes
// never answers — saying plainly it cannot list the writes lost with it, keeping them in a final
// snapshot the output names; the old instance serves under its name again.
func TestLogicalSwap(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	before := r.fingerprint(twin.DemoInstance)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=logical", "copy-method=stream", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	out, code := r.cairn(append(args, "--yes", "--confirm", openWindow)...)
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("run: exit %d\n%s\n%s", code, out, r.runnerLog())
	}
	checkFinal(t, r, before, twin.DemoInstance+"-unencrypted")
	run := r.runs()[0]

	// the succeeded run's cut-back, --yes only: stopped at the typed confirmation, nothing deleted
	out, code = r.cairn("rollback", run.ID, "--yes", "--no-tui")
	if code == 0 || !strings.Contains(out, "--after-success") {
		t.Fatalf("rollback of a succeeded run without --after-success: exit %d, want it refused\n%s", code, out)
	}
	out, code = r.cairn("rollback", run.ID, "--after-success", "--yes", "--no-tui")
	if code == 0 || !strings.Contains(out, "cut-delete-new needs a typed confirmation, which --yes does not answer") ||
		!strings.Contains(out, "`cairn rollback "+run.ID+" --confirm cut-delete-new="+twin.DemoInstance+"`") {
		t.Fatalf("cut-back with --yes: exit %d, want it stopped at cut-delete-new's typed confirmation\n%s\n%s", code, out, r.runnerLog())
	}
	if !strings.Contains(out, "cannot list the writes") {
		t.Errorf("the cut-back does not say it cannot list the writes lost with the new instance:\n%s", out)
	}
	if found, enc, _, _, _ := r.instance(twin.DemoInstance); !found || !enc {
		t.Fatalf("%s: found=%v encrypted=%v after a typed confirmation no one gave, want the encrypted instance serving", twin.DemoInstance, found, enc)
	}

	out, code = r.cairn("rollback", run.ID, "--after-success", "--yes", "--no-tui", "--confirm", "cut-delete-new="+twin.DemoInstance)
	if code != 0 || !strings.Contains(out, "ROLLED-BACK") || !strings.Contains(out, "final-snapshot="+twin.DemoInstance+"-cutback-final") {
		t.Fatalf("cut-back confirmed: exit %d, want ROLLED-BACK naming the final snapshot\n%s\n%s", code, out, r.runnerLog())
	}
	snaps, err := r.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(twin.DemoInstance + "-cutback-final")})
	if err != nil || len(snaps.DBSnapshots) != 1 || !aws.ToBool(snaps.DBSnapshots[0].Encrypted) {
		t.Fatalf("the deleted instance's final snapshot %s-cutback-final: %v %+v, want it there, encrypted", twin.DemoInstance, err, snaps)
	}
	if found, enc, _, _, _ := r.instance(twin.DemoInstance); !found || enc {
		t.Fatalf("%s: found=%v encrypted=%v after the cut-back, want the old unencrypted instance back under its name", twin.DemoInstance, found, enc)
	}
	c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		t.Fatalf("after the cut-back the application role cannot log in: %v", err)
	}
	_ = c.Close(ctx)
	// the cut-back lists what it leaves; the same run again is refused by them, each with its delete
	for _, snap := range []string{"-pre-kms", "-cutback-final"} {
		del := "`aws rds delete-db-snapshot --db-snapshot-identifier " + twin.DemoInstance + snap + "`"
		if !strings.Contains(out, "LEFT: snapshot "+twin.DemoInstance+snap+" ") || !strings.Contains(out, del) {
			t.Errorf("the cut-back's end does not list %s%s with %s:\n%s", twin.DemoInstance, snap, del, out)
		}
	}
	out, code = r.cairn(append(args, "--yes", "--confirm", openWindow)...)
	if code == 0 || !strings.Contains(out, "snapshot identifier "+twin.DemoInstance+"-cutback-final is taken: cairn run "+run.ID+" made it") ||
		!strings.Contains(out, "aws rds delete-db-snapshot --db-snapshot-identifier "+twin.DemoInstance+"-cutback-final") {
		t.Errorf("the same run again after the cut-back: exit %d, want the preflight to name the leftover snapshots and their delete command\n%s", code, out)
	}
}

// A restore the target refuses halfway (an extension only a superuser may create: adminpack, which RDS does not offer) leaves no
// half-restored database; the cut-back restores the source from its snapshot under its original
// identifier, with its data, and lets the application roles in again.
func TestLogicalRestoreFailsCutBack(t *testing.T) {
	r := newRig(t)
	su := r.superuser(twin.DemoInstance, "analytics")
	if _, err := su.Exec(context.Background(), "CREATE EXTENSION adminpack"); err != nil {
		t.Fatal(err)
	}
	before := r.fingerprint(twin.DemoInstance)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=logical", "keep-identifier=true", "passwords-secret=cairn/app-db/roles")...)
	out, code := r.cairn(append(args, "--yes", "--confirm", openWindow, "--confirm", "delete-source="+twin.DemoInstance, "--on-failure", "rollback")...)
	if code == 0 || strings.Contains(out, "SUCCEEDED") {
		t.Fatalf("the run should fail at the restore:\n%s", out)
	}
	if !strings.Contains(out, "half-restored database was dropped") {
		t.Errorf("no word of the dropped database:\n%s", out)
	}
	if !strings.Contains(out, "cut-restore-source") {
		t.Fatalf("no cut-back:\n%s\n%s", out, r.runnerLog())
	}
	found, enc, _, _, _ := r.instance(twin.DemoInstance)
	if !found || enc {
		t.Fatalf("after the cut-back %s: found=%v encrypted=%v, want the unencrypted source back", twin.DemoInstance, found, enc)
	}
	if after := r.fingerprint(twin.DemoInstance); after != before {
		t.Fatalf("the source came back different:\n%s", lineDiff(before, after))
	}
	c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		t.Fatalf("after the cut-back the application role cannot log in: %v", err)
	}
	c.Close(context.Background())
}

// Bad input is refused by the preflight, with a clear message, and nothing is changed.
func TestPreflightRefusesBadInput(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	// an encrypted instance under the name the rebuild would use as its target
	if _, err := r.rds.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-enc"), Engine: aws.String("postgres"),
		DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String("master"), MasterUserPassword: aws.String("Encrypted-1234"),
		StorageEncrypted: aws.Bool(true), KmsKeyId: aws.String(twin.DemoKeyAlias)}); err != nil {
		t.Fatal(err)
	}
	w := awsrds.NewDBInstanceAvailableWaiter(r.rds)
	if err := w.Wait(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("app-db-enc")}, 2*time.Minute, func(o *awsrds.DBInstanceAvailableWaiterOptions) { o.MinDelay = 200 * time.Millisecond }); err != nil {
		t.Fatal(err)
	}
	key, err := r.kms.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.kms.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	inv := r.inventory()
	for _, c := range []struct {
		name, want string
		params     []string
	}{
		{"unknown instance", "instance no-such-db does not exist", []string{"instance=no-such-db", "target=no-such-db-enc"}},
		{"already encrypted", "instance app-db-enc is already encrypted", []string{"instance=app-db-enc", "target=app-db-enc2"}},
		{"missing key", "KMS key alias/no-such-key does not exist", []string{"kms-key=alias/no-such-key"}},
		{"disabled key", "is disabled", []string{"kms-key=" + aws.ToString(key.KeyMetadata.KeyId)}},
		{"identifier taken", "identifier app-db-enc is taken", nil},
		// refused before globals-dump writes anything: a corrected re-run finds no other run's file
		{"keep-identifier with replicate", "keep-identifier=true: the replicate strategy", []string{"instance=app-db", "target=app-db-new", "strategy=replicate", "keep-identifier=true"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"run", "rds-encrypt"}, r.params(c.params...)...)
			out, code := r.cairn(append(args, "--yes", "--on-failure", "abort")...)
			if code == 0 {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(out, c.want) || !strings.Contains(out, "preflight") {
				t.Fatalf("want %q from the preflight, got:\n%s", c.want, out)
			}
			if got := r.inventory(); got != inv {
				t.Fatalf("something changed:\nbefore:\n%s\nafter:\n%s", inv, got)
			}
			if _, err := os.Stat(filepath.Join(r.dump, "globals.sql")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("the refused run wrote %s/globals.sql (%v)", r.dump, err)
			}
			// nothing changed, so no way back is offered: fix the cause and run again, or abort
			if strings.Contains(out, "[cutback]") || strings.Contains(out, "[rollback]") || !strings.Contains(out, "no step of this run changed anything") {
				t.Fatalf("a cut-back or roll back offered though nothing changed:\n%s", out)
			}
		})
	}
}

func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for i := 0; i < max(len(al), len(bl)); i++ {
		x, y := "", ""
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			out = append(out, "- "+x, "+ "+y)
		}
	}
	return strings.Join(out, "\n")
}
