package twin_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
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

// settingsLine is an instance's operational settings as DescribeDBInstances reports them.
func settingsLine(i rdstypes.DBInstance) string {
	og := ""
	for _, m := range i.OptionGroupMemberships {
		og += aws.ToString(m.OptionGroupName)
	}
	return fmt.Sprintf("og=%s backup=%s maint=%s minor=%v iam=%v logs=%v %s/%d iops=%d tput=%d max=%d ca=%s pi=%v/%s/%d mon=%d/%s em=%v lic=%s",
		og, aws.ToString(i.PreferredBackupWindow), aws.ToString(i.PreferredMaintenanceWindow), aws.ToBool(i.AutoMinorVersionUpgrade),
		aws.ToBool(i.IAMDatabaseAuthenticationEnabled), i.EnabledCloudwatchLogsExports, aws.ToString(i.StorageType), aws.ToInt32(i.AllocatedStorage),
		aws.ToInt32(i.Iops), aws.ToInt32(i.StorageThroughput), aws.ToInt32(i.MaxAllocatedStorage), aws.ToString(i.CACertificateIdentifier),
		aws.ToBool(i.PerformanceInsightsEnabled), aws.ToString(i.PerformanceInsightsKMSKeyId), aws.ToInt32(i.PerformanceInsightsRetentionPeriod),
		aws.ToInt32(i.MonitoringInterval), aws.ToString(i.MonitoringRoleArn), i.EnhancedMonitoringResourceArn != nil, aws.ToString(i.LicenseModel))
}

// TestOperationalSettings drives the operational settings through the SDK: the defaults AWS gives,
// CreateDBInstance with every one set, ModifyDBInstance changing them (the instance is modifying for
// a while), a restore taking what RestoreDBInstanceFromDBSnapshot takes (the snapshot's option group
// and IOPS by default), the settings kept across a restart, and AWS's refusals as typed errors, which
// change nothing.
func TestOperationalSettings(t *testing.T) {
	t.Parallel()
	dir := testbed.TempDir(t)
	s, c := startTwin(t, dir)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const pw = "ops-password-1"
	endpoint := s.Endpoint()
	iamc := awsiam.NewFromConfig(twin.AWSConfig(), func(o *awsiam.Options) { o.BaseEndpoint = &endpoint })
	role, err := iamc.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("em-role"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	roleARN := aws.ToString(role.Role.Arn)
	key, err := c.kms.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("pi")})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	if _, err := c.rds.CreateOptionGroup(ctx, &awsrds.CreateOptionGroupInput{OptionGroupName: aws.String("ops-og"), EngineName: aws.String("postgres"),
		MajorEngineVersion: aws.String("15"), OptionGroupDescription: aws.String("ops")}); err != nil {
		t.Fatal(err)
	}
	ogs, err := c.rds.DescribeOptionGroups(ctx, &awsrds.DescribeOptionGroupsInput{EngineName: aws.String("postgres")})
	if err != nil || len(ogs.OptionGroupsList) != 2 || aws.ToString(ogs.OptionGroupsList[0].OptionGroupName) != "default:postgres-15" ||
		aws.ToString(ogs.OptionGroupsList[1].OptionGroupName) != "ops-og" {
		t.Fatalf("DescribeOptionGroups = %+v, %v; want the default group and ops-og", ogs, err)
	}

	plain := createInstance(t, ctx, c, "ops-plain", pw, nil)
	if got, want := settingsLine(plain), "og=default:postgres-15 backup=03:00-03:30 maint=sun:05:00-sun:05:30 minor=true iam=false logs=[] gp3/20 iops=3000 tput=125 max=0 ca=rds-ca-rsa2048-g1 pi=false//0 mon=0/ em=false lic=postgresql-license"; got != want {
		t.Fatalf("defaults:\n got %s\nwant %s", got, want)
	}

	full := createInstance(t, ctx, c, "ops-full", pw, func(in *awsrds.CreateDBInstanceInput) {
		in.StorageType, in.AllocatedStorage, in.Iops, in.StorageThroughput = aws.String("gp3"), aws.Int32(500), aws.Int32(14000), aws.Int32(600)
		in.OptionGroupName, in.PreferredBackupWindow, in.PreferredMaintenanceWindow = aws.String("ops-og"), aws.String("23:45-00:15"), aws.String("mon:01:00-mon:01:30")
		in.AutoMinorVersionUpgrade, in.EnableIAMDatabaseAuthentication = aws.Bool(false), aws.Bool(true)
		in.EnableCloudwatchLogsExports, in.MaxAllocatedStorage = []string{"upgrade", "postgresql"}, aws.Int32(2000)
		in.CACertificateIdentifier, in.LicenseModel = aws.String("rds-ca-rsa4096-g1"), aws.String("postgresql-license")
		in.EnablePerformanceInsights, in.PerformanceInsightsKMSKeyId, in.PerformanceInsightsRetentionPeriod = aws.Bool(true), key.KeyMetadata.KeyId, aws.Int32(731)
		in.MonitoringInterval, in.MonitoringRoleArn = aws.Int32(30), aws.String(roleARN)
	})
	wantFull := "og=ops-og backup=23:45-00:15 maint=mon:01:00-mon:01:30 minor=false iam=true logs=[postgresql upgrade] gp3/500 iops=14000 tput=600 max=2000 ca=rds-ca-rsa4096-g1 pi=true/" +
		keyARN + "/731 mon=30/" + roleARN + " em=true lic=postgresql-license"
	if got := settingsLine(full); got != wantFull {
		t.Fatalf("created with every setting:\n got %s\nwant %s", got, wantFull)
	}

	// gp3 below 400 GiB reports its baseline.
	small := createInstance(t, ctx, c, "ops-small", pw, func(in *awsrds.CreateDBInstanceInput) { in.StorageType = aws.String("gp3") })
	if aws.ToInt32(small.Iops) != 3000 || aws.ToInt32(small.StorageThroughput) != 125 {
		t.Fatalf("gp3 20 GiB reports iops=%d throughput=%d, want the baseline 3000, 125", aws.ToInt32(small.Iops), aws.ToInt32(small.StorageThroughput))
	}

	// ModifyDBInstance: the instance is modifying, then available with the settings.
	out, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("ops-plain"), ApplyImmediately: aws.Bool(true),
		OptionGroupName: aws.String("ops-og"), PreferredBackupWindow: aws.String("10:00-10:30"), PreferredMaintenanceWindow: aws.String("fri:12:00-fri:12:30"),
		AutoMinorVersionUpgrade: aws.Bool(false), EnableIAMDatabaseAuthentication: aws.Bool(true), StorageType: aws.String("io1"), AllocatedStorage: aws.Int32(100),
		Iops: aws.Int32(3000), MaxAllocatedStorage: aws.Int32(200), CACertificateIdentifier: aws.String("rds-ca-ecc384-g1"),
		EnablePerformanceInsights: aws.Bool(true), MonitoringInterval: aws.Int32(5), MonitoringRoleArn: aws.String(roleARN),
		CloudwatchLogsExportConfiguration: &rdstypes.CloudwatchLogsExportConfiguration{EnableLogTypes: []string{"postgresql"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := aws.ToString(out.DBInstance.DBInstanceStatus); st != "modifying" {
		t.Fatalf("right after ModifyDBInstance the status is %s, want modifying", st)
	}
	modified := waitAvailable(t, ctx, c, "ops-plain")
	defaultKey, err := c.kms.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/aws/rds")})
	if err != nil {
		t.Fatal(err)
	}
	wantModified := "og=ops-og backup=10:00-10:30 maint=fri:12:00-fri:12:30 minor=false iam=true logs=[postgresql] io1/100 iops=3000 tput=0 max=200 ca=rds-ca-ecc384-g1 pi=true/" +
		aws.ToString(defaultKey.KeyMetadata.Arn) + "/7 mon=5/" + roleARN + " em=true lic=postgresql-license"
	if got := settingsLine(modified); got != wantModified {
		t.Fatalf("modified:\n got %s\nwant %s", got, wantModified)
	}

	// A restore takes the snapshot's option group and IOPS unless told otherwise, and what it is given.
	if _, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("ops-full"), DBSnapshotIdentifier: aws.String("ops-snap")}); err != nil {
		t.Fatal(err)
	}
	snap := waitSnapshot(t, ctx, c, "ops-snap")
	if aws.ToString(snap.OptionGroupName) != "ops-og" || aws.ToInt32(snap.Iops) != 14000 || !aws.ToBool(snap.IAMDatabaseAuthenticationEnabled) {
		t.Fatalf("snapshot option group %s iops %d IAM auth %v", aws.ToString(snap.OptionGroupName), aws.ToInt32(snap.Iops), aws.ToBool(snap.IAMDatabaseAuthenticationEnabled))
	}
	if _, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("ops-restored"),
		DBSnapshotIdentifier: aws.String("ops-snap"), PreferredBackupWindow: aws.String("04:00-04:30"), EnableIAMDatabaseAuthentication: aws.Bool(true),
		EnableCloudwatchLogsExports: []string{"postgresql"}, CACertificateIdentifier: aws.String("rds-ca-ecc384-g1"), BackupRetentionPeriod: aws.Int32(9)}); err != nil {
		t.Fatal(err)
	}
	restored := waitAvailable(t, ctx, c, "ops-restored")
	if got, want := settingsLine(restored), "og=ops-og backup=04:00-04:30 maint=sun:05:00-sun:05:30 minor=true iam=true logs=[postgresql] gp3/500 iops=14000 tput=600 max=0 ca=rds-ca-ecc384-g1 pi=false//0 mon=0/ em=false lic=postgresql-license"; got != want {
		t.Fatalf("restored:\n got %s\nwant %s", got, want)
	}
	if aws.ToInt32(restored.BackupRetentionPeriod) != 9 {
		t.Fatalf("restored backup retention %d, want 9", aws.ToInt32(restored.BackupRetentionPeriod))
	}

	// Refusals, each a typed error that changes nothing.
	modify := func(mod func(*awsrds.ModifyDBInstanceInput)) func() error {
		return func() error {
			in := &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("ops-full"), ApplyImmediately: aws.Bool(true)}
			mod(in)
			_, err := c.rds.ModifyDBInstance(ctx, in)
			return err
		}
	}
	refusals := []struct {
		name string
		call func() error
		is   func(error) bool
	}{
		{"unknown option group", modify(func(in *awsrds.ModifyDBInstanceInput) { in.OptionGroupName = aws.String("nope") }), isA[*rdstypes.OptionGroupNotFoundFault]},
		{"option group of another major version", modify(func(in *awsrds.ModifyDBInstanceInput) { in.OptionGroupName = aws.String("default:postgres-14") }), hasCode("InvalidParameterCombination")},
		{"create with an unknown option group", func() error {
			_, err := c.rds.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("ops-bad"), Engine: aws.String("postgres"),
				DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String("master"), MasterUserPassword: aws.String(pw), OptionGroupName: aws.String("nope")})
			return err
		}, isA[*rdstypes.OptionGroupNotFoundFault]},
		{"restore with an unknown option group", func() error {
			_, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("ops-bad"),
				DBSnapshotIdentifier: aws.String("ops-snap"), OptionGroupName: aws.String("nope")})
			return err
		}, isA[*rdstypes.OptionGroupNotFoundFault]},
		{"option group taken", func() error {
			_, err := c.rds.CreateOptionGroup(ctx, &awsrds.CreateOptionGroupInput{OptionGroupName: aws.String("ops-og"), EngineName: aws.String("postgres"),
				MajorEngineVersion: aws.String("15"), OptionGroupDescription: aws.String("again")})
			return err
		}, isA[*rdstypes.OptionGroupAlreadyExistsFault]},
		{"monitoring role without an interval", modify(func(in *awsrds.ModifyDBInstanceInput) {
			in.MonitoringInterval, in.MonitoringRoleArn = aws.Int32(0), aws.String(roleARN)
		}), hasCode("InvalidParameterCombination")},
		{"create with monitoring but no role", func() error {
			_, err := c.rds.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("ops-bad"), Engine: aws.String("postgres"),
				DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String("master"), MasterUserPassword: aws.String(pw), MonitoringInterval: aws.Int32(60)})
			return err
		}, hasCode("InvalidParameterCombination")},
		{"monitoring role that does not exist", modify(func(in *awsrds.ModifyDBInstanceInput) {
			in.MonitoringRoleArn = aws.String("arn:aws:iam::000000000000:role/missing")
		}), hasCode("InvalidParameterValue")},
		{"monitoring interval not offered", modify(func(in *awsrds.ModifyDBInstanceInput) { in.MonitoringInterval = aws.Int32(7) }), hasCode("InvalidParameterValue")},
		{"unknown CA", modify(func(in *awsrds.ModifyDBInstanceInput) { in.CACertificateIdentifier = aws.String("rds-ca-nope") }), isA[*rdstypes.CertificateNotFoundFault]},
		{"overlapping windows", modify(func(in *awsrds.ModifyDBInstanceInput) { in.PreferredBackupWindow = aws.String("00:45-01:15") }), hasCode("InvalidParameterCombination")},
		{"malformed maintenance window", modify(func(in *awsrds.ModifyDBInstanceInput) { in.PreferredMaintenanceWindow = aws.String("someday") }), hasCode("InvalidParameterValue")},
		{"short backup window", modify(func(in *awsrds.ModifyDBInstanceInput) { in.PreferredBackupWindow = aws.String("05:00-05:10") }), hasCode("InvalidParameterValue")},
		{"unknown log type", modify(func(in *awsrds.ModifyDBInstanceInput) {
			in.CloudwatchLogsExportConfiguration = &rdstypes.CloudwatchLogsExportConfiguration{EnableLogTypes: []string{"slowquery"}}
		}), hasCode("InvalidParameterCombination")},
		{"IOPS on gp3 below 400 GiB", func() error {
			_, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("ops-small"), ApplyImmediately: aws.Bool(true), Iops: aws.Int32(3000)})
			return err
		}, hasCode("InvalidParameterCombination")},
		{"storage autoscaling below the storage", modify(func(in *awsrds.ModifyDBInstanceInput) { in.MaxAllocatedStorage = aws.Int32(500) }), hasCode("InvalidParameterCombination")},
		{"storage decreased", modify(func(in *awsrds.ModifyDBInstanceInput) { in.AllocatedStorage = aws.Int32(400) }), hasCode("InvalidParameterValue")},
		{"Performance Insights key changed", modify(func(in *awsrds.ModifyDBInstanceInput) { in.PerformanceInsightsKMSKeyId = aws.String("alias/aws/rds") }), hasCode("InvalidParameterCombination")},
		{"Performance Insights retention not offered", modify(func(in *awsrds.ModifyDBInstanceInput) { in.PerformanceInsightsRetentionPeriod = aws.Int32(30) }), hasCode("InvalidParameterValue")},
		{"license model of another engine", modify(func(in *awsrds.ModifyDBInstanceInput) { in.LicenseModel = aws.String("license-included") }), hasCode("InvalidParameterValue")},
	}
	for _, r := range refusals {
		err := r.call()
		if err == nil || !r.is(err) {
			t.Errorf("%s: err = %v (%T), not the expected typed error", r.name, err, err)
		}
	}
	again, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("ops-full")})
	if err != nil {
		t.Fatal(err)
	}
	if got := settingsLine(again.DBInstances[0]); got != wantFull || aws.ToString(again.DBInstances[0].DBInstanceStatus) != "available" {
		t.Fatalf("the refusals changed ops-full:\n got %s (%s)\nwant %s", got, aws.ToString(again.DBInstances[0].DBInstanceStatus), wantFull)
	}

	// Kept across a restart (the state file).
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s2, err := twin.Start(ctx, twin.Options{Dir: dir, Speed: twin.SpeedFast})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close(context.Background())
	c2 := newClients(s2.Endpoint())
	for id, want := range map[string]string{"ops-full": wantFull, "ops-plain": wantModified} {
		if got := settingsLine(waitAvailable(t, ctx, c2, id)); got != want {
			t.Fatalf("%s after a restart:\n got %s\nwant %s", id, got, want)
		}
	}
	if _, err := c2.rds.DescribeOptionGroups(ctx, &awsrds.DescribeOptionGroupsInput{OptionGroupName: aws.String("ops-og")}); err != nil {
		t.Fatalf("option group after a restart: %v", err)
	}
}
