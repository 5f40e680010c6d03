package twin_test

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

const canary = "CANARY-7f3e9b1c-do-not-leak"

// TestLifecycleThroughSDK drives the twin only through aws-sdk-go-v2 and the RDS waiters: create,
// load rows, snapshot, copy with a KMS key, restore the encrypted copy under another name, rename,
// read the rows back, delete; then restarts the twin and finds its state again.
func TestLifecycleThroughSDK(t *testing.T) {
	t.Parallel()
	dir := testbed.TempDir(t)
	s, c := startTwin(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const pw = "s3cret-Pass_word"

	who, err := c.sts.GetCallerIdentity(ctx, &awssts.GetCallerIdentityInput{})
	if err != nil || *who.Account != "000000000000" {
		t.Fatalf("GetCallerIdentity = %v, %v", who, err)
	}
	key, err := c.kms.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("e2e")})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := *key.KeyMetadata.Arn

	src := createInstance(t, ctx, c, "e2e-src", pw, func(in *awsrds.CreateDBInstanceInput) {
		in.VpcSecurityGroupIds = []string{"sg-0123456789abcdef0"}
	})
	if src.StorageEncrypted == nil || *src.StorageEncrypted {
		t.Fatalf("source StorageEncrypted = %v, want false", src.StorageEncrypted)
	}
	conn := connect(t, ctx, src, pw)
	var super bool
	if err := conn.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || super {
		t.Fatalf("master rolsuper = %v, %v; want a non-superuser as on RDS", super, err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE items (id int PRIMARY KEY, note text);
		INSERT INTO items SELECT g, CASE WHEN g = 42 THEN '`+canary+`' ELSE 'row ' || g END FROM generate_series(1, 2000) g`); err != nil {
		t.Fatal(err)
	}

	if _, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("e2e-src"), DBSnapshotIdentifier: aws.String("e2e-snap")}); err != nil {
		t.Fatal(err)
	}
	snap := waitSnapshot(t, ctx, c, "e2e-snap")
	if *snap.Encrypted || *snap.PercentProgress != 100 {
		t.Fatalf("snapshot Encrypted=%v PercentProgress=%v", *snap.Encrypted, *snap.PercentProgress)
	}
	if _, err := c.rds.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("e2e-snap"),
		TargetDBSnapshotIdentifier: aws.String("e2e-snap-enc"), KmsKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	enc := waitSnapshot(t, ctx, c, "e2e-snap-enc")
	if !*enc.Encrypted || *enc.KmsKeyId != keyARN {
		t.Fatalf("copy Encrypted=%v KmsKeyId=%v, want true %s", *enc.Encrypted, aws.ToString(enc.KmsKeyId), keyARN)
	}
	assertCanary(t, dir, true)

	if _, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{
		DBInstanceIdentifier: aws.String("e2e-restored"), DBSnapshotIdentifier: aws.String("e2e-snap-enc")}); err != nil {
		t.Fatal(err)
	}
	restored := waitAvailable(t, ctx, c, "e2e-restored")
	if !*restored.StorageEncrypted || *restored.KmsKeyId != keyARN {
		t.Fatalf("restored StorageEncrypted=%v KmsKeyId=%v", *restored.StorageEncrypted, aws.ToString(restored.KmsKeyId))
	}
	if sgs := restored.VpcSecurityGroups; len(sgs) != 1 || *sgs[0].VpcSecurityGroupId != "sg-0cairn0default00" {
		t.Fatalf("restored security groups = %+v, want only the default group", sgs)
	}

	// Rename: the old name vanishes at once; the new one answers only after a while.
	if _, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("e2e-restored"),
		NewDBInstanceIdentifier: aws.String("e2e-renamed"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"e2e-restored", "e2e-renamed"} {
		_, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		var nf *rdstypes.DBInstanceNotFoundFault
		if !errors.As(err, &nf) {
			t.Fatalf("right after the rename, describe %s = %v, want DBInstanceNotFound", id, err)
		}
	}
	sawRenaming := false
	for ctx.Err() == nil {
		out, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("e2e-renamed")})
		if err == nil {
			sawRenaming = *out.DBInstances[0].DBInstanceStatus == "renaming"
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !sawRenaming {
		t.Error("the new name first answered with a status other than renaming")
	}
	renamed := waitAvailable(t, ctx, c, "e2e-renamed")
	assertRows(t, ctx, renamed, pw)

	if _, err := c.rds.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("e2e-src"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	waitGone(t, ctx, c, "e2e-src")

	// Restart: state and data survive.
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2, err := twin.Start(ctx, twin.Options{Dir: dir, Speed: twin.SpeedFast})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(context.Background())
	c2 := newClients(s2.Endpoint())
	again := waitAvailable(t, ctx, c2, "e2e-renamed")
	assertRows(t, ctx, again, pw)
	snaps, err := c2.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{})
	if err != nil || len(snaps.DBSnapshots) != 2 {
		t.Fatalf("snapshots after restart = %d, %v; want 2", len(snaps.DBSnapshots), err)
	}
	if _, err := c2.kms.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatalf("key after restart: %v", err)
	}
}

func assertRows(t *testing.T, ctx context.Context, inst rdstypes.DBInstance, pw string) {
	t.Helper()
	conn := connect(t, ctx, inst, pw)
	var n int
	var note string
	if err := conn.QueryRow(ctx, "SELECT count(*), max(note) FILTER (WHERE id = 42) FROM items").Scan(&n, &note); err != nil {
		t.Fatal(err)
	}
	if n != 2000 || note != canary {
		t.Fatalf("rows = %d, canary row = %q; want 2000, %q", n, note, canary)
	}
}

// assertCanary checks the canary is in the unencrypted snapshot's files (so the search works) and in
// none of the encrypted snapshot's.
func assertCanary(t *testing.T, dir string, wantPlain bool) {
	t.Helper()
	var plainHit, sealedHit, sealedDirs int
	err := filepath.WalkDir(filepath.Join(dir, "snapshots"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		_, statErr := os.Stat(filepath.Join(filepath.Dir(path), "datakey"))
		encrypted := statErr == nil
		if encrypted && filepath.Base(path) == "base.tar.sealed" {
			sealedDirs++
		}
		if bytes.Contains(b, []byte(canary)) {
			if encrypted {
				sealedHit++
			} else {
				plainHit++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if sealedDirs == 0 {
		t.Fatal("no encrypted snapshot files found")
	}
	if sealedHit > 0 {
		t.Fatalf("canary found in %d files of an encrypted snapshot", sealedHit)
	}
	if wantPlain && plainHit == 0 {
		t.Fatal("canary not found in the unencrypted snapshot: the search proves nothing")
	}
}
