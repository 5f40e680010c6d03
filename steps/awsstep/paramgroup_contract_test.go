package awsstep_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The replicate strategy's AWS kinds, rds-logical-replication and rds-reboot, pass the contract on
// the twin, judged by DescribeDBInstances / DescribeDBParameterGroups and the server's own wal_level.
func TestLogicalReplicationKindsContractOnTheTwin(t *testing.T) {
	ctx := context.Background()
	tb := testbed.StartTwinSDK(t)
	rdsc := tb.RDS
	reg := steps.NewRegistry()
	awsstep.Register(reg)
	env := func() *steps.Env {
		e := steptest.Env(t, map[string]string{})
		e.Environ = os.Environ()
		e.RunID = "run-logical"
		return e
	}
	// the groups: which one the instance has, and which exist (a rollback's re-attach leaves the
	// instance pending-reboot, as on RDS: what is applied is the reboot's probe, below)
	probe := func(t testing.TB) string {
		var b strings.Builder
		is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range is.DBInstances[0].DBParameterGroups {
			fmt.Fprintf(&b, "instance group %s\n", aws.ToString(g.DBParameterGroupName))
		}
		gs, err := rdsc.DescribeDBParameterGroups(ctx, &awsrds.DescribeDBParameterGroupsInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, g := range gs.DBParameterGroups {
			fmt.Fprintf(&b, "group %s %q\n", aws.ToString(g.DBParameterGroupName), aws.ToString(g.Description))
		}
		return b.String()
	}
	const group = "app-db-logical"
	lr := steptest.Decode(t, reg, "rds-logical-replication", "instance: app-db\ngroup: "+group+"\nmax-slot-wal-keep-size: \"2048\"\n")
	t.Run("rds-logical-replication", func(t *testing.T) {
		steptest.Run(t, steptest.Case{Step: lr, Env: env(), Probe: probe, LookAlike: &steptest.LookAlike{
			What: "a group " + group + " with rds.logical_replication=1 made by hand",
			Plant: func(t testing.TB) {
				if _, err := rdsc.CreateDBParameterGroup(ctx, &awsrds.CreateDBParameterGroupInput{DBParameterGroupName: aws.String(group),
					DBParameterGroupFamily: aws.String("postgres15"), Description: aws.String("by hand")}); err != nil {
					t.Fatal(err)
				}
				if _, err := rdsc.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String(group),
					Parameters: []rdstypes.Parameter{{ParameterName: aws.String("rds.logical_replication"), ParameterValue: aws.String("1"), ApplyMethod: rdstypes.ApplyMethodPendingReboot}}}); err != nil {
					t.Fatal(err)
				}
			},
			There: func(t testing.TB) bool { return strings.Contains(probe(t), "group "+group+` "by hand"`) },
			Remove: func(t testing.TB) {
				if _, err := rdsc.DeleteDBParameterGroup(ctx, &awsrds.DeleteDBParameterGroupInput{DBParameterGroupName: aws.String(group)}); err != nil {
					t.Fatal(err)
				}
			},
		}, Tamper: func(t testing.TB) {
			// the instance's previous group is attached again behind cairn's back
			before := strings.Fields(strings.SplitN(probe(t), "\n", 2)[0])
			if len(before) < 3 || before[2] != group {
				t.Fatalf("the step did not attach %s: %s", group, probe(t))
			}
			if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
				DBParameterGroupName: aws.String("default.postgres15"), ApplyImmediately: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			waitInstance(t, rdsc, twin.DemoInstance)
		}})
		if _, err := lr.Apply(ctx, env()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("rds-reboot", func(t *testing.T) {
		walLevel := func(t testing.TB) string {
			c := masterConn(ctx, t, rdsc, twin.DemoInstance, twin.DemoPassword)
			defer c.Close(context.WithoutCancel(ctx))
			var lvl, keep string
			if err := c.QueryRow(ctx, "SELECT current_setting('wal_level'), current_setting('max_slot_wal_keep_size')").Scan(&lvl, &keep); err != nil {
				t.Fatal(err)
			}
			return "wal_level " + lvl + " max_slot_wal_keep_size " + keep + "\n"
		}
		applied := func(t testing.TB) string {
			is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
			if err != nil {
				t.Fatal(err)
			}
			return probe(t) + "apply status " + aws.ToString(is.DBInstances[0].DBParameterGroups[0].ParameterApplyStatus) + "\n" + walLevel(t)
		}
		st := steptest.Decode(t, reg, "rds-reboot", "instance: app-db\n")
		steptest.Run(t, steptest.Case{Step: st, Env: env(), Probe: applied,
			NoLookAlike: "no artifact of its own: it reads the instance's live ParameterApplyStatus",
			Tamper: func(t testing.TB) {
				if got := walLevel(t); got != "wal_level logical max_slot_wal_keep_size 2GB\n" {
					ps, err := rdsc.DescribeDBParameters(ctx, &awsrds.DescribeDBParametersInput{DBParameterGroupName: aws.String(group), Source: aws.String("user")})
					if err != nil {
						t.Fatal(err)
					}
					for _, p := range ps.Parameters {
						t.Logf("%s=%s", aws.ToString(p.ParameterName), aws.ToString(p.ParameterValue))
					}
					t.Fatalf("after the reboot: %s%s", got, probe(t))
				}
				if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
					DBParameterGroupName: aws.String("default.postgres15"), ApplyImmediately: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
				waitInstance(t, rdsc, twin.DemoInstance)
			}})
		if err := lr.Rollback(ctx, env()); err != nil {
			t.Fatal(err)
		}
	})

	// An apply that stopped half-way — the copy made but not attached, or attached (and the reboot
	// step after it stopped too, the instance still rebooting) — is undone by the rollback the
	// failure menu offers: the instance on its own group again, the copy gone; a second rollback
	// changes nothing.
	t.Run("rds-logical-replication rolled back half-way", func(t *testing.T) {
		before := probe(t)
		is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
		if err != nil {
			t.Fatal(err)
		}
		own := aws.ToString(is.DBInstances[0].DBParameterGroups[0].DBParameterGroupName)
		for _, attached := range []bool{false, true} {
			// what the apply's first calls leave, as it makes them
			if _, err := rdsc.CopyDBParameterGroup(ctx, &awsrds.CopyDBParameterGroupInput{SourceDBParameterGroupIdentifier: aws.String(own),
				TargetDBParameterGroupIdentifier: aws.String(group), TargetDBParameterGroupDescription: aws.String("cairn run run-logical: " + own + " with rds.logical_replication=1")}); err != nil {
				t.Fatal(err)
			}
			if attached {
				if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
					DBParameterGroupName: aws.String(group), ApplyImmediately: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
				if _, err := rdsc.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)}); err != nil {
					t.Fatal(err)
				}
			}
			for i := range 2 {
				if err := lr.Rollback(ctx, env()); err != nil {
					t.Fatalf("attached %v: rollback %d of the half-made apply: %v", attached, i+1, err)
				}
				if got := probe(t); got != before {
					t.Fatalf("attached %v: after rollback %d:\n%s\nwant as before:\n%s", attached, i+1, got, before)
				}
			}
		}
	})
}
