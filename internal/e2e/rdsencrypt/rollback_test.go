package rdsencrypt_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// A replicate run that fails after the reboot and the target's creation (its passwords secret
// gone by then), aborted: the menu offers the roll back, not the cut-back (nothing is past the
// point of no return). `cairn rollback` then undoes every step the run applied, newest first — not
// the cut-back: the target deleted, the insurance snapshot deleted (the source never left), the
// source's own parameter group attached again (logical replication stays on until its next
// reboot, said with the command) and the run's copy of it deleted, the globals file removed. The
// same command then runs again past the preflight, the group copy, the reboot and the snapshot.
func TestReplicateFailsAfterRebootRollBack(t *testing.T) {
	r := newRig(t)
	ctx := context.Background()
	src := twin.DemoInstance
	group := func() string {
		out, err := r.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(src)})
		if err != nil || len(out.DBInstances) == 0 || len(out.DBInstances[0].DBParameterGroups) == 0 {
			t.Fatalf("describe %s: %v", src, err)
		}
		return aws.ToString(out.DBInstances[0].DBParameterGroups[0].DBParameterGroupName)
	}
	original := group()
	args := append(r.replicateArgs(), "--on-failure", "abort")
	run := r.killDuring("replica-create", 0, args...)
	if _, err := r.sm.DeleteSecret(ctx, &awssm.DeleteSecretInput{SecretId: aws.String("cairn/app-db/roles"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	out, code := r.cairn("resume", run.ID, "--yes", "--no-tui", "--confirm", "reboot="+src, "--on-failure", "abort")
	if code == 0 || !strings.Contains(out, "replica-globals") {
		t.Fatalf("the resumed run should fail at replica-globals: exit %d\n%s\n%s", code, out, r.runnerLog())
	}
	// the preflights only read: nothing of theirs to undo; replica-globals created the roles before
	// it failed on the secret, so it is undone first
	if !strings.Contains(out, "[rollback] Roll back: undo replica-globals (partially applied), replica-create, replica-snapshot, reboot, logical-replication, globals-dump, in that order") || strings.Contains(out, "[cutback]") {
		t.Fatalf("want the roll back offered (undoing the steps that changed something), no cut-back before the point of no return:\n%s", out)
	}

	out, code = r.cairn("rollback", run.ID, "--yes", "--no-tui")
	if code != 0 || strings.Contains(out, "cutting back") || !strings.Contains(out, "ROLLED-BACK") {
		t.Fatalf("rollback: exit %d, want the step-by-step roll back\n%s\n%s", code, out, r.runnerLog())
	}
	if !strings.Contains(out, "aws rds reboot-db-instance --db-instance-identifier "+src) {
		t.Errorf("the rollback does not say logical replication stays on until a reboot, nor how to finish it:\n%s", out)
	}
	if g := group(); g != original {
		t.Errorf("%s is on parameter group %s after the rollback, want its own %s again", src, g, original)
	}
	if _, err := r.rds.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{DBParameterGroupName: aws.String(src + "-logical")}); err == nil {
		t.Errorf("the run's parameter group copy %s-logical is still there", src)
	}
	if _, err := r.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(src + "-pre-kms")}); err == nil {
		t.Errorf("the run's insurance snapshot %s-pre-kms is still there", src)
	}
	if found, _, _, _, _ := r.instance(src + "-enc"); found {
		t.Errorf("the target %s-enc is still there", src)
	}
	if _, err := os.Stat(filepath.Join(r.dump, "globals.sql")); err == nil {
		t.Errorf("the run's globals file is still there")
	}

	// the same command again: no manual cleanup stands in its way
	args = append(r.replicateArgs(), "--on-failure", "abort", "--detach")
	if out, code := r.cairn(args...); code != 0 {
		t.Fatalf("the same run again: exit %d\n%s", code, out)
	}
	var again *journal.Run
	for _, x := range r.runs() {
		if x.ID != run.ID {
			again = x
		}
	}
	if again == nil {
		t.Fatal("no second run")
	}
	r.waitJournal(again, "the second run past the preflight, the group copy, the reboot and the snapshot", func(e []events.Event) bool {
		return has(e, events.StepVerified, "replica-snapshot")
	})
	r.killRunners()
}
