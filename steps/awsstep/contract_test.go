package awsstep_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The AWS kinds pass the step contract on the twin, judged by the test's own DescribeDB* probe.
func TestContractOnTheTwin(t *testing.T) {
	ctx := context.Background()
	tb := testbed.StartTwinSDK(t)
	rdsc := tb.RDS
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
		e.RunID = "run-contract"
		return e
	}
	// A second instance, app-db-2 (restored from a snapshot of app-db), for the look-alikes: a
	// snapshot taken of it while it bore the name app-db, and an instance under rename's new name.
	if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("app-db"), DBSnapshotIdentifier: aws.String("seed-2")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, rdsc, "seed-2")
	waitInstance(t, rdsc, "app-db")
	if _, err := rdsc.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBSnapshotIdentifier: aws.String("seed-2"),
		DBInstanceIdentifier: aws.String("app-db-2")}); err != nil {
		t.Fatal(err)
	}
	waitInstance(t, rdsc, "app-db-2")
	resourceOf := func(t testing.TB, id string) string {
		is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(is.DBInstances[0].DbiResourceId)
	}
	other := resourceOf(t, "app-db-2")
	rename := func(t testing.TB, from, to string) {
		if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(from), NewDBInstanceIdentifier: aws.String(to),
			ApplyImmediately: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		waitInstance(t, rdsc, to)
	}
	t.Run("rds-snapshot", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-snapshot", "instance: app-db\nsnapshot: contract-snap\n")
		steptest.Run(t, steptest.Case{Step: st, Env: env(), Probe: probe, LookAlike: &steptest.LookAlike{
			What: "snapshot contract-snap of another instance, taken while it bore the name app-db",
			Plant: func(t testing.TB) {
				rename(t, "app-db", "app-db-keep")
				rename(t, "app-db-2", "app-db")
				if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("app-db"), DBSnapshotIdentifier: aws.String("contract-snap")}); err != nil {
					t.Fatal(err)
				}
				waitSnapshot(t, rdsc, "contract-snap")
				waitInstance(t, rdsc, "app-db")
				rename(t, "app-db", "app-db-2")
				rename(t, "app-db-keep", "app-db")
			},
			There: func(t testing.TB) bool {
				ss, err := rdsc.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("contract-snap")})
				return err == nil && len(ss.DBSnapshots) == 1 && aws.ToString(ss.DBSnapshots[0].DBInstanceIdentifier) == "app-db" &&
					aws.ToString(ss.DBSnapshots[0].DbiResourceId) == other
			},
			Remove: func(t testing.TB) {
				if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("contract-snap")}); err != nil {
					t.Fatal(err)
				}
				waitSnapshotGone(t, rdsc, "contract-snap")
			},
		}, Tamper: func(t testing.TB) {
			if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("contract-snap")}); err != nil {
				t.Fatal(err)
			}
		}})
	})
	// An older snapshot of the same instance under the same name, taken by another run (or by
	// hand): the same DbiResourceId, another state of the data. Not done, never waited for as this
	// run's; this run's own snapshot is done when the run is resumed.
	t.Run("rds-snapshot: another run's snapshot of the same instance", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-snapshot", "instance: app-db\nsnapshot: contract-snap-run\n")
		for _, tags := range [][]rdstypes.Tag{{{Key: aws.String(awsstep.TagRunID), Value: aws.String("run-yesterday")}}, nil} {
			if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("app-db"),
				DBSnapshotIdentifier: aws.String("contract-snap-run"), Tags: tags}); err != nil {
				t.Fatal(err)
			}
			waitSnapshot(t, rdsc, "contract-snap-run")
			waitInstance(t, rdsc, "app-db")
			before := probe(t)
			ch := st.Check(ctx, env())
			if ch.State != steps.Blocked || ch.Fix == "" || !strings.Contains(ch.Reason, "not this run's") {
				t.Fatalf("snapshot of app-db tagged %v: want blocked with a fix, got %+v", tags, ch)
			}
			if _, err := st.Apply(ctx, env()); err == nil {
				t.Fatalf("apply passed over the snapshot of app-db tagged %v", tags)
			}
			if got := probe(t); got != before {
				t.Fatalf("apply changed the target:\nbefore: %s\nafter:  %s", before, got)
			}
			if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("contract-snap-run")}); err != nil {
				t.Fatal(err)
			}
			waitSnapshotGone(t, rdsc, "contract-snap-run")
		}
		// This run's own: taken, then found done by a resumed run (a fresh Env of the same run).
		if _, err := st.Apply(ctx, env()); err != nil {
			t.Fatal(err)
		}
		if ch := st.Check(ctx, env()); ch.State != steps.Done {
			t.Fatalf("this run's own snapshot on resume: check says %s (%s), want done", ch.State, ch.Reason)
		}
		if err := st.Rollback(ctx, env()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("rds-rename", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-rename", "from: app-db\nto: app-db-renamed\nencrypted: \"false\"\n")
		steptest.Run(t, steptest.Case{Step: st, Env: env(), Probe: probe, LookAlike: &steptest.LookAlike{
			What:  "another instance (app-db-2) already answering to app-db-renamed",
			Plant: func(t testing.TB) { rename(t, "app-db-2", "app-db-renamed") },
			There: func(t testing.TB) bool {
				return strings.Contains(probe(t), "instance app-db-renamed\n") && !strings.Contains(probe(t), "instance app-db-2\n")
			},
			Remove: func(t testing.TB) { rename(t, "app-db-renamed", "app-db-2") },
		}})
	})
	t.Run("kms-key", func(t *testing.T) {
		st := steptest.Decode(t, reg, "kms-key", "key: "+twin.DemoKeyAlias+"\n")
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env(), Probe: probe,
			NoLookAlike: "it reads the key (exists, enabled) with DescribeKey every run and accepts nothing as done: Check never says done"}, nil)
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
