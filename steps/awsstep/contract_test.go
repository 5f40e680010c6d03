package awsstep_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/runbooks"
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
	// Both waits pass the whole contract. until: answers — apply returns once the new name answers,
	// verify proves that (and no more), a second check says done; rollback renames back.
	for _, c := range []struct{ name, to, with string }{
		{"rds-rename", "app-db-renamed", ""},
		{"rds-rename until answers", "app-db-answers", "until: answers\npoll: 1s\n"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := steptest.Decode(t, reg, "rds-rename", "from: app-db\nto: "+c.to+"\nencrypted: \"false\"\n"+c.with)
			steptest.Run(t, steptest.Case{Step: st, Env: env(), Probe: probe, LookAlike: &steptest.LookAlike{
				What:  "another instance (app-db-2) already answering to " + c.to,
				Plant: func(t testing.TB) { rename(t, "app-db-2", c.to) },
				There: func(t testing.TB) bool {
					return strings.Contains(probe(t), "instance "+c.to+"\n") && !strings.Contains(probe(t), "instance app-db-2\n")
				},
				Remove: func(t testing.TB) { rename(t, c.to, "app-db-2") },
			}})
		})
	}
	t.Run("rds-available", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-available", "instance: app-db\nresource-id: "+resourceOf(t, "app-db")+"\npoll: 1s\n")
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env(), Probe: probe, LookAlike: &steptest.LookAlike{
			What: "another instance (app-db-2) available under the name app-db",
			Plant: func(t testing.TB) {
				rename(t, "app-db", "app-db-keep")
				rename(t, "app-db-2", "app-db")
			},
			There: func(t testing.TB) bool { return resourceOf(t, "app-db") == other },
			Remove: func(t testing.TB) {
				rename(t, "app-db", "app-db-2")
				rename(t, "app-db-keep", "app-db")
			},
		}}, nil)
	})
	// The window's rename returns once the new name answers — the application gets in while the
	// instance is still renaming — and the run's next proof of "available" refuses it until it is.
	// Judged by order, not by time: the test reads the status only after the verify; when the
	// instance still renames then, it was renaming when the verify looked, and the verify must have
	// refused. A try where the twin finished the rename first proves nothing and is made again.
	t.Run("rds-rename until answers returns before available; rds-available waits", func(t *testing.T) {
		ren := steptest.Decode(t, reg, "rds-rename", "from: app-db-2\nto: app-db-3\nencrypted: \"false\"\nuntil: answers\npoll: 1s\n")
		seen := false
		for try := 1; !seen; try++ {
			if try > 5 {
				t.Fatal("in 5 tries the rename never returned while app-db-3 was still renaming: until: answers waits for available")
			}
			outs, err := ren.Apply(ctx, env())
			if err != nil {
				t.Fatal(err)
			}
			av := steptest.Decode(t, reg, "rds-available", "instance: app-db-3\nresource-id: "+outs["resource-id"].Value+"\npoll: 1s\n")
			verr := av.Verify(ctx, env())
			status := statusOf(t, rdsc, "app-db-3")
			if status != "available" {
				seen = true
				t.Logf("try %d: the rename returned, rds-available's verify refused, app-db-3 still %s", try, status)
				var ve *steps.VerifyError
				if !errors.As(verr, &ve) || ve.Found != status {
					t.Fatalf("app-db-3 is %s after rds-available's verify, which said %v: want it refused as %s", status, verr, status)
				}
			}
			if outs["resource-id"].Value != other {
				t.Fatalf("the rename outputs resource id %q, want app-db-2's %s", outs["resource-id"].Value, other)
			}
			c := masterConn(ctx, t, rdsc, "app-db-3", twin.DemoPassword) // the name answers, to the test's own login
			_ = c.Close(ctx)
			if _, err := av.Apply(ctx, env()); err != nil {
				t.Fatal(err)
			}
			if status := statusOf(t, rdsc, "app-db-3"); status != "available" {
				t.Fatalf("rds-available returned while app-db-3 is %s", status)
			}
			if err := av.Verify(ctx, env()); err != nil {
				t.Fatal(err)
			}
			rename(t, "app-db-3", "app-db-2")
		}
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

// statusOf is the instance's status as DescribeDBInstances says it ("missing" when absent).
func statusOf(t testing.TB, c *awsrds.Client, id string) string {
	t.Helper()
	out, err := c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if awsstep.IsNotFound(err) {
		return "missing"
	}
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.DBInstances[0].DBInstanceStatus)
}

// rds-rename's own fields are refused at their line, naming the step, the field and what to write.
func TestRenameFieldsRefusedAtTheirLine(t *testing.T) {
	reg := steps.NewRegistry()
	awsstep.Register(reg)
	head := "schema: 1\nname: t\ntitle: T\nsteps:\n  - id: swap\n    kind: rds-rename\n    title: Swap\n    with:\n      from: a\n      to: b\n"
	for _, tt := range []struct{ name, line, want string }{
		{"until unknown", "      until: ready\n", `bad.yaml:11:14: step "swap" (rds-rename): until: want available (the new name answers and is available) or answers (it answers; a later rds-available step waits for available), got "ready"`},
		{"poll without a unit", "      poll: 2\n", `bad.yaml:11:13: step "swap" (rds-rename): poll: want a duration such as 2s, 90s or 10m (a number needs its unit), got "2"`},
		{"poll under a second", "      poll: 200ms\n", `bad.yaml:11:13: step "swap" (rds-rename): poll: want a duration of 1s or more (at most one DescribeDBInstances call a second), got "200ms"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runbooks.Load("bad.yaml", []byte(head+tt.line), reg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("want %s\ngot %v", tt.want, err)
			}
		})
	}
	if _, err := runbooks.Load("ok.yaml", []byte(head+"      until: answers\n      poll: 2s\n"), reg); err != nil {
		t.Fatalf("until: answers, poll: 2s refused: %v", err)
	}
}
