package awsstep_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	awsstep "github.com/cairn-runbooks/cairn/steps/aws"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The AWS kinds pass the step contract on the twin, judged by the test's own DescribeDB* probe.
func TestContractOnTheTwin(t *testing.T) {
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	ctx := context.Background()
	tw, err := twin.Start(ctx, twin.Options{Dir: testbed.TempDir(t), Speed: twin.SpeedFast, Seed: twin.SeedDemo, Rows: 100})
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
	probe := func(t testing.TB) string {
		var b strings.Builder
		is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range is.DBInstances {
			b.WriteString("instance " + aws.ToString(i.DBInstanceIdentifier) + "\n")
		}
		ss, err := rdsc.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss.DBSnapshots {
			b.WriteString("snapshot " + aws.ToString(s.DBSnapshotIdentifier) + " " + aws.ToString(s.Status) + "\n")
		}
		return b.String()
	}
	reg := steps.NewRegistry()
	awsstep.Register(reg)
	env := func() *steps.Env {
		e := steptest.Env(t, map[string]string{})
		e.Environ = os.Environ()
		return e
	}
	t.Run("rds-snapshot", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-snapshot", "instance: app-db\nsnapshot: contract-snap\n")
		steptest.Run(t, steptest.Case{Step: st, Env: env(), Probe: probe, Tamper: func(t testing.TB) {
			if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("contract-snap")}); err != nil {
				t.Fatal(err)
			}
		}})
	})
	t.Run("rds-rename", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-rename", "from: app-db\nto: app-db-renamed\nencrypted: \"false\"\n")
		steptest.Run(t, steptest.Case{Step: st, Env: env(), Probe: probe})
	})
	t.Run("kms-key refuses a missing key", func(t *testing.T) {
		st := steptest.Decode(t, reg, "kms-key", "key: alias/none\n")
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if ch := st.Check(ctx, env()); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "does not exist") {
			t.Fatalf("want blocked: does not exist, got %+v", ch)
		}
	})
}
