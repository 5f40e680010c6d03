package pgdata_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// pg-compare-rows, as rds-encrypt's snapshot-copy path uses it, on the twin: the source and an
// instance restored from its snapshot hold the same rows, so the comparison passes and changes
// nothing; one row written to the source after the snapshot makes it fail.
func TestCompareRowsContractOnTheTwin(t *testing.T) {
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	ctx := context.Background()
	tw, err := twin.Start(ctx, twin.Options{Dir: testbed.TempDir(t), Speed: twin.SpeedFast, Seed: twin.SeedDemo, Rows: 50})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Close(context.Background()) })
	for _, kv := range tw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ep := tw.Endpoint()
	rdsc := awsrds.NewFromConfig(twin.AWSConfig(), func(o *awsrds.Options) { o.BaseEndpoint = &ep })
	const snap, copyID = "app-db-pre-kms", "app-db-enc"
	if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(twin.DemoInstance), DBSnapshotIdentifier: aws.String(snap)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		out, err := rdsc.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)})
		if err == nil && aws.ToString(out.DBSnapshots[0].Status) == "available" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("snapshot %s not available in 2 minutes: %v", snap, err)
		}
	}
	if _, err := rdsc.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBSnapshotIdentifier: aws.String(snap),
		DBInstanceIdentifier: aws.String(copyID)}); err != nil {
		t.Fatal(err)
	}
	waitAvailable(t, rdsc, copyID)

	vals := map[string]string{"region": "", "instance": twin.DemoInstance, "credentials-secret": twin.DemoSecret, "target": copyID}
	st := steptest.Decode(t, all.Registry(), "pg-compare-rows", `
source: { region: "${params.region}", instance: "${params.instance}", credentials-secret: "${params.credentials-secret}" }
target: { region: "${params.region}", instance: "${params.target}", credentials-secret: "${params.credentials-secret}" }
`)
	src, cp := serverProbe(ctx, rdsc, twin.DemoInstance), serverProbe(ctx, rdsc, copyID)
	steptest.RunReadOnly(t, steptest.Case{Step: st, Env: steptest.Env(t, vals), Probe: func(t testing.TB) string { return src(t) + "\n---\n" + cp(t) },
		NoLookAlike: "it reads both servers afresh every time and accepts nothing as done"}, func(t testing.TB) {
		// A write to the source that the snapshot did not catch.
		sqlExec(ctx, t, rdsc, twin.DemoInstance, "app", "INSERT INTO audit.events (actor, what) VALUES ('late writer', 'after the snapshot')")
	})
	if _, err := st.Apply(ctx, steptest.Env(t, vals)); err == nil || !strings.Contains(err.Error(), "app.audit.events:") {
		t.Fatalf("the comparison does not name the table written after the snapshot: %v", err)
	}
}
