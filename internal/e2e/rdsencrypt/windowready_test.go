package rdsencrypt_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// The window opens only on what holds when it opens. Strategy snapshot-copy: a plan whose target
// is the instance itself (in another case) is refused by the preflight before anything changes, a
// plan of a typo'd instance answers with its not-found finding; then --yes prepares and stops at the quiesce, the KMS key is disabled while it waits, and the
// resume with the window's confirmation is refused before the quiesce applies, naming
// `aws kms enable-key`: the application role still logs in, no snapshot was taken.
func TestWindowRefusedOnADisabledKey(t *testing.T) {
	r := newRig(t)
	out, code := r.cairn(append([]string{"plan", "rds-encrypt"}, append(r.params("target=APP-DB")[1:], "--check")...)...)
	if code == 0 || !strings.Contains(out, "target APP-DB is the instance itself") || !strings.Contains(out, "-p target=") {
		t.Fatalf("plan --check with target=APP-DB: exit %d, want the preflight blocked naming the fix\n%s", code, out)
	}
	// A typo'd instance: the plan's check answers with the preflight's finding (the renames'
	// checks look once, they do not wait for an instance to appear under either name).
	out, code = r.cairn(append([]string{"plan", "rds-encrypt"}, append(r.params("instance=app-dbb")[1:], "--check")...)...)
	if code == 0 || !strings.Contains(out, "instance app-dbb does not exist") || !strings.Contains(out, "neither app-dbb nor app-dbb-unencrypted exists now") {
		t.Fatalf("plan --check of instance=app-dbb: exit %d, want the not-found finding\n%s", code, out)
	}
	out, code = r.cairn(append([]string{"run", "rds-encrypt"}, append(r.params("strategy=snapshot-copy"), "--yes")...)...)
	run := r.runs()[0]
	if code != 4 {
		t.Fatalf("run with --yes alone: exit %d, want 4 (stopped at the quiesce)\n%s\n%s", code, out, r.runnerLog())
	}
	if _, err := r.kms.DisableKey(context.Background(), &awskms.DisableKeyInput{KeyId: aws.String(r.keyARN())}); err != nil {
		t.Fatal(err)
	}
	out, code = r.cairn("resume", run.ID, "--no-tui", "--yes", "--confirm", openWindow, "--on-failure", "abort")
	if code == 0 || !strings.Contains(out, "the window did not open") || !strings.Contains(out, "aws kms enable-key --key-id "+r.keyARN()) {
		t.Fatalf("resume with the key disabled: exit %d, want the window refused naming enable-key\n%s\n%s", code, out, r.runnerLog())
	}
	r.windowNeverOpened(run)
	if _, err := r.rds.DescribeDBSnapshots(context.Background(), &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(twin.DemoInstance + "-pre-kms")}); err == nil {
		t.Error("a snapshot was taken although the window never opened")
	}
}

// Strategy replicate: prepared up to the quiesce, the new instance renamed by hand; the resume with
// the window's confirmation is refused before the quiesce applies, naming the identifier to give
// back: the application role still logs in.
func TestWindowRefusedOnARenamedTarget(t *testing.T) {
	r := newRig(t)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=replicate", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	out, code := r.cairn(append(args, "--yes", "--confirm", "reboot="+twin.DemoInstance)...)
	run := r.runs()[0]
	if code != 4 {
		t.Fatalf("run with --yes alone: exit %d, want 4 (stopped at the quiesce)\n%s\n%s", code, out, r.runnerLog())
	}
	target := twin.DemoInstance + "-enc"
	if _, err := r.rds.ModifyDBInstance(context.Background(), &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(target),
		NewDBInstanceIdentifier: aws.String(target + "-moved"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	out, code = r.cairn("resume", run.ID, "--no-tui", "--yes", "--confirm", openWindow, "--on-failure", "abort")
	if code == 0 || !strings.Contains(out, "the window did not open") || !strings.Contains(out, "--new-db-instance-identifier "+target) {
		t.Fatalf("resume with the target renamed: exit %d, want the window refused naming the rename back\n%s\n%s", code, out, r.runnerLog())
	}
	r.windowNeverOpened(run)
}

// windowNeverOpened fails unless the quiesce never applied and the application role logs in.
func (r *rig) windowNeverOpened(run *journal.Run) {
	r.t.Helper()
	recs, _ := journal.ReadAll(run)
	if has(recs, events.StepApplying, "quiesce") {
		r.t.Fatalf("the quiesce applied although the window's start was refused\n%s", r.runnerLog())
	}
	c, err := r.login(twin.DemoInstance, "app", "app_rw", "app-rw-demo")
	if err != nil {
		r.t.Fatalf("the application role cannot log in after the refused window: %v", err)
	}
	_ = c.Close(context.Background())
}
