package awsstep_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The rds-encrypt runbook's rebuild kinds — rds-preflight, rds-copy-snapshot, rds-restore,
// rds-create-instance, rds-delete-rebuild and rds-delete — pass the step contract on the twin, judged
// by the test's own DescribeDBInstances / DescribeDBSnapshots / DescribeKey probe (and a login, for
// the master password). The `with:` blocks are the runbook's (runbooks/builtin/rds-encrypt.yaml) with
// its parameters (instance app-db, kms-key alias/cairn-demo, target app-db-enc) and the preflight's
// outputs filled in. The subtests run in the runbook's order on one twin: each uses what the one
// before left (the preflight's settings, the insurance snapshot, the encrypted copy).
func TestRebuildKindsContractOnTheTwin(t *testing.T) {
	ctx := context.Background()
	tb := testbed.StartTwinSDK(t)
	rdsc := tb.RDS
	kmsc := tb.KMS
	reg := all.Registry()

	key, err := kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(twin.DemoKeyAlias)})
	if err != nil {
		t.Fatal(err)
	}
	keyARN := aws.ToString(key.KeyMetadata.Arn)
	probe := rebuildProbe(ctx, rdsc, kmsc, keyARN)

	// The source's operational settings are none of AWS's defaults: the demo seed's (option group,
	// windows, IAM authentication, Performance Insights, log exports, storage autoscaling), and
	// the rest set here (provisioned gp3 storage, no minor-version upgrades, another CA, Enhanced
	// Monitoring with its role, a longer Performance Insights retention).
	iamc := tb.IAM
	role, err := iamc.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("rds-monitoring-role"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"monitoring.rds.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	if err != nil {
		t.Fatal(err)
	}
	roleARN := aws.ToString(role.Role.Arn)
	if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance), ApplyImmediately: aws.Bool(true),
		StorageType: aws.String("gp3"), AllocatedStorage: aws.Int32(400), Iops: aws.Int32(15000), StorageThroughput: aws.Int32(750),
		MaxAllocatedStorage: aws.Int32(1000), AutoMinorVersionUpgrade: aws.Bool(false), CACertificateIdentifier: aws.String("rds-ca-ecc384-g1"),
		MonitoringInterval: aws.Int32(15), MonitoringRoleArn: aws.String(roleARN), PerformanceInsightsRetentionPeriod: aws.Int32(93),
		CloudwatchLogsExportConfiguration: &rdstypes.CloudwatchLogsExportConfiguration{EnableLogTypes: []string{"upgrade"}},
	}); err != nil {
		t.Fatal(err)
	}
	waitInstance(t, rdsc, twin.DemoInstance)
	defaultPIKey, err := kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/aws/rds")})
	if err != nil {
		t.Fatal(err)
	}
	sourceOps := "option-group=" + twin.DemoOptionGroup + " backup=01:30-02:00/7d maintenance=sat:22:00-sat:22:30 minor-upgrades=false iam-auth=true" +
		" logs=[postgresql upgrade] gp3 400GiB iops=15000 throughput=750 max-storage=1000 ca=rds-ca-ecc384-g1" +
		" pi=true/" + aws.ToString(defaultPIKey.KeyMetadata.Arn) + "/93d monitoring=15s/" + roleARN + " license=postgresql-license"
	if got := opsOf(ctx, t, rdsc, twin.DemoInstance); got != sourceOps {
		t.Fatalf("the source's operational settings:\n got %s\nwant %s", got, sourceOps)
	}

	// The runbook's parameters, and the preflight's outputs once it has run.
	vals := map[string]string{
		"instance": twin.DemoInstance, "region": "", "kms-key": twin.DemoKeyAlias, "keep-identifier": "false",
		"target": "app-db-enc", "credentials-secret": twin.DemoSecret,
	}

	preflightSpec := `
region: "${params.region}"
instance: "${params.instance}"
kms-key: "${params.kms-key}"
keep-identifier: "${params.keep-identifier}"
target: "${params.target}"
will-delete: "${params.keep-identifier}"
free: ["${params.target}", "${params.instance}-unencrypted"]
free-snapshots: ["${params.instance}-pre-kms", "${params.instance}-pre-kms-enc", "${params.instance}-final-unencrypted"]
`
	t.Run("rds-preflight", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-preflight", preflightSpec)
		env := runEnv(t, vals)
		// A target that is the instance itself, in any case (RDS identifiers are case-insensitive),
		// is refused before anything changes, naming the fix; it would only fail inside the window.
		for _, target := range []string{twin.DemoInstance, strings.ToUpper(twin.DemoInstance)} {
			ch := st.Check(ctx, runEnv(t, mergeVals(vals, map[string]string{"target": target})))
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "target "+target+" is the instance itself") || !strings.Contains(ch.Fix, "-p target=") {
				t.Fatalf("target=%s: want blocked, the target is the instance, with the fix; got %+v", target, ch)
			}
		}
		out, err := st.Apply(ctx, env)
		if err != nil {
			t.Fatalf("preflight of the demo instance: %v", err)
		}
		if out["key-arn"].Value != keyARN || out["build-id"].Value != "app-db-enc" || !strings.Contains(out["settings"].Value, `"class":"db.t3.medium"`) ||
			!strings.Contains(out["settings"].Value, `"monitoring_role_arn":"`+roleARN+`"`) {
			t.Fatalf("preflight outputs: %+v", out)
		}
		vals["steps.preflight.settings"] = out["settings"].Value
		vals["steps.preflight.key-arn"] = out["key-arn"].Value
		vals["steps.preflight.build-id"] = out["build-id"].Value
		// Spoiled: the key is disabled (then enabled again for the kinds after this one).
		steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: probe,
			NoLookAlike: "it reads the instance, the key and the free names afresh every run and accepts nothing as done: Check never says done"}, func(t testing.TB) {
			if _, err := kmsc.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
				t.Fatal(err)
			}
		})
		if _, err := kmsc.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
			t.Fatal(err)
		}
	})
	if vals["steps.preflight.settings"] == "" {
		t.Fatal("the preflight gave no settings: the kinds after it cannot be run")
	}

	// The insurance snapshot the rds-snapshot step makes (that kind has its own contract test): taken
	// here with the SDK, so the kinds below start from the runbook's state.
	if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
		DBSnapshotIdentifier: aws.String("app-db-pre-kms")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, rdsc, "app-db-pre-kms")
	waitInstance(t, rdsc, twin.DemoInstance)

	// The cut-back's last word: of the snapshots the run makes, those that exist — the insurance
	// snapshot, not the copy not made yet — each with its delete command. It reads only.
	t.Run("rds-leftovers", func(t *testing.T) {
		lo := steptest.Decode(t, reg, "rds-leftovers", `
region: "${params.region}"
snapshots: ["${params.instance}-pre-kms", "${params.instance}-pre-kms-enc"]
`)
		out, err := lo.Apply(ctx, runEnv(t, vals))
		if err != nil {
			t.Fatal(err)
		}
		left := out["left"].List
		if len(left) != 1 || !strings.Contains(left[0], "snapshot app-db-pre-kms (") ||
			!strings.Contains(left[0], "`aws rds delete-db-snapshot --db-snapshot-identifier app-db-pre-kms`") {
			t.Fatalf("leftovers with app-db-pre-kms standing and no copy: want that one listed with its delete command, got %q", left)
		}
		steptest.RunReadOnly(t, steptest.Case{Step: lo, Env: runEnv(t, vals), Probe: probe,
			NoLookAlike: "it lists what exists under the run's snapshot names, for the engineer to judge; Check never says done"}, nil)
	})

	t.Run("rds-copy-snapshot", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-copy-snapshot", `
region: "${params.region}"
source: "${params.instance}-pre-kms"
target: "${params.instance}-pre-kms-enc"
kms-key: "${steps.preflight.key-arn}"
`)
		env := runEnv(t, vals)
		var older *time.Time
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
			What: "app-db-pre-kms-enc encrypted with the key, but copied from an older snapshot of app-db",
			Plant: func(t testing.TB) {
				if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
					DBSnapshotIdentifier: aws.String("app-db-older")}); err != nil {
					t.Fatal(err)
				}
				waitSnapshot(t, rdsc, "app-db-older")
				waitInstance(t, rdsc, twin.DemoInstance)
				if _, err := rdsc.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("app-db-older"),
					TargetDBSnapshotIdentifier: aws.String("app-db-pre-kms-enc"), KmsKeyId: aws.String(keyARN)}); err != nil {
					t.Fatal(err)
				}
				waitSnapshot(t, rdsc, "app-db-pre-kms-enc")
				ss, err := rdsc.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("app-db-older")})
				if err != nil {
					t.Fatal(err)
				}
				older = ss.DBSnapshots[0].SnapshotCreateTime
			},
			There: func(t testing.TB) bool {
				ss, err := rdsc.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("app-db-pre-kms-enc")})
				if err != nil || len(ss.DBSnapshots) != 1 || older == nil {
					return false
				}
				cp := ss.DBSnapshots[0]
				return aws.ToBool(cp.Encrypted) && aws.ToString(cp.KmsKeyId) == keyARN && cp.OriginalSnapshotCreateTime != nil && cp.OriginalSnapshotCreateTime.Equal(*older)
			},
			Remove: func(t testing.TB) {
				for _, id := range []string{"app-db-pre-kms-enc", "app-db-older"} {
					if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(id)}); err != nil {
						t.Fatal(err)
					}
					waitSnapshotGone(t, rdsc, id)
				}
			},
		}, Tamper: func(t testing.TB) {
			// What apply left, as the probe sees it: the copy, encrypted with the key.
			wantLine(t, probe(t), "snapshot app-db-pre-kms-enc of app-db available encrypted=true key="+keyARN)
			// The encrypted copy is deleted behind cairn's back.
			if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("app-db-pre-kms-enc")}); err != nil {
				t.Fatal(err)
			}
			waitSnapshotGone(t, rdsc, "app-db-pre-kms-enc")
		}})
		// The restore below needs the copy: made again, by the step.
		if _, err := st.Apply(ctx, env); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("rds-restore", func(t *testing.T) {
		st := steptest.Decode(t, reg, "rds-restore", `
region: "${params.region}"
snapshot: "${params.instance}-pre-kms-enc"
identifier: "${params.target}"
settings: "${steps.preflight.settings}"
kms-key: "${steps.preflight.key-arn}"
`)
		steptest.Run(t, steptest.Case{Step: st, Env: runEnv(t, vals), Probe: probe, LookAlike: &steptest.LookAlike{
			What: "app-db-enc restored from the encrypted copy by hand, without the source's settings",
			Plant: func(t testing.TB) {
				if _, err := rdsc.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBSnapshotIdentifier: aws.String("app-db-pre-kms-enc"),
					DBInstanceIdentifier: aws.String("app-db-enc")}); err != nil {
					t.Fatal(err)
				}
				waitInstance(t, rdsc, "app-db-enc")
			},
			There: func(t testing.TB) bool {
				is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("app-db-enc")})
				return err == nil && len(is.DBInstances) == 1 && aws.ToString(is.DBInstances[0].DBInstanceClass) != "" &&
					!strings.Contains(fmt.Sprint(is.DBInstances[0].VpcSecurityGroups), "sg-0cairn0app000000")
			},
			Remove: func(t testing.TB) {
				if _, err := rdsc.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-enc"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
				waitInstanceGone(t, rdsc, "app-db-enc")
			},
		}, Tamper: func(t testing.TB) {
			// What apply left: encrypted with the key, with the source's class, parameter group and
			// security groups (a restore without them would get the VPC's default group).
			wantLine(t, probe(t), "instance app-db-enc available encrypted=true key="+keyARN+" class=db.t3.medium pg=app-postgres15 sgs=[sg-0cairn0app000000] protected=false")
			// … and every operational setting of the source, those the restore takes and those the
			// ModifyDBInstance after it sets.
			if got := opsOf(ctx, t, rdsc, "app-db-enc"); got != sourceOps {
				t.Fatalf("the restored instance's operational settings:\n got %s\nwant %s (the source's)", got, sourceOps)
			}
			// The restored instance is deleted behind cairn's back.
			if _, err := rdsc.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-enc"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			waitInstanceGone(t, rdsc, "app-db-enc")
		}})

		// The same instance, made by another run (its tag), is not this run's: blocked with the
		// fix, and apply refuses and leaves it as it is. This run's own (a resume) is done.
		t.Run("another run's instance is not done", func(t *testing.T) {
			env := runEnv(t, vals)
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
			if ch := st.Check(ctx, env); ch.State != steps.Done {
				t.Fatalf("this run's own app-db-enc: check says %s (%s), want done (a resumed run)", ch.State, ch.Reason)
			}
			other := runEnv(t, vals)
			other.RunID = "run-other"
			before := probe(t)
			if ch := st.Check(ctx, other); ch.State != steps.Blocked || ch.Fix == "" || !strings.Contains(ch.Reason, contractRunID) {
				t.Fatalf("app-db-enc made by run %s, checked by run-other: want blocked with a fix naming it, got %+v", contractRunID, ch)
			}
			if _, err := st.Apply(ctx, other); err == nil || !strings.Contains(err.Error(), "nothing was") {
				t.Fatalf("apply by run-other over app-db-enc: want a refusal, got %v", err)
			}
			if got := probe(t); got != before {
				t.Fatalf("run-other's apply changed app-db-enc:\nbefore: %s\nafter:  %s", before, got)
			}
			// The preflight of run-other finds the target taken, naming the run that made it; this
			// run's own preflight (a resume) does not.
			pf := steptest.Decode(t, reg, "rds-preflight", preflightSpec)
			if ch := pf.Check(ctx, other); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "target identifier app-db-enc is taken") ||
				!strings.Contains(ch.Reason, contractRunID) || !strings.Contains(ch.Fix, "-p target=") {
				t.Fatalf("run-other's preflight with app-db-enc standing: want the target refused, got %+v", ch)
			}
			if ch := pf.Check(ctx, env); strings.Contains(ch.Reason, "app-db-enc") {
				t.Fatalf("this run's preflight refused its own app-db-enc: %+v", ch)
			}
			// What the window depends on, proved again before it opens: the key enabled, this
			// run's app-db-enc, the very one (its DbiResourceId). Another run's, or one of
			// another resource id, is blocked with the fix; a disabled key is blocked naming
			// enable-key.
			is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("app-db-enc")})
			if err != nil {
				t.Fatal(err)
			}
			ready := map[string]string{"steps.replica-create.resource-id": aws.ToString(is.DBInstances[0].DbiResourceId)}
			wr := steptest.Decode(t, reg, "rds-window-ready", `
region: "${params.region}"
kms-key: "${steps.preflight.key-arn}"
instance: "${params.target}"
resource-id: "${steps.replica-create.resource-id}"
`)
			otherReady := runEnv(t, mergeVals(vals, ready))
			otherReady.RunID = "run-other"
			if ch := wr.Check(ctx, otherReady); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "not this run's") || ch.Fix == "" {
				t.Fatalf("window-ready of run-other over this run's app-db-enc: want blocked, got %+v", ch)
			}
			if ch := wr.Check(ctx, runEnv(t, mergeVals(vals, map[string]string{"steps.replica-create.resource-id": "db-OTHER"}))); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "not db-OTHER") {
				t.Fatalf("window-ready with another recorded resource id: want blocked, got %+v", ch)
			}
			t.Run("rds-window-ready", func(t *testing.T) {
				steptest.RunReadOnly(t, steptest.Case{Step: wr, Env: runEnv(t, mergeVals(vals, ready)), Probe: probe,
					NoLookAlike: "it reads the key and the instance afresh every run and accepts nothing as done: Check never says done"}, func(t testing.TB) {
					if _, err := kmsc.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
						t.Fatal(err)
					}
					ch := wr.Check(ctx, runEnv(t, mergeVals(vals, ready)))
					if ch.State != steps.Blocked || !strings.Contains(ch.Fix, "aws kms enable-key --key-id "+keyARN) {
						t.Fatalf("window-ready with the key disabled: want blocked naming enable-key, got %+v", ch)
					}
				})
				if _, err := kmsc.EnableKey(ctx, &awskms.EnableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
					t.Fatal(err)
				}
			})
		})

		// The restore's work includes the source's settings: a restored instance whose security
		// groups were changed afterwards is not the one this step makes.
		t.Run("changed settings are noticed", func(t *testing.T) {
			env := runEnv(t, vals)
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
			if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-enc"),
				VpcSecurityGroupIds: []string{"sg-0cairn0default00"}, ApplyImmediately: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			waitInstance(t, rdsc, "app-db-enc")
			wantLine(t, probe(t), "instance app-db-enc available encrypted=true key="+keyARN+" class=db.t3.medium pg=app-postgres15 sgs=[sg-0cairn0default00] protected=false")
			verr := st.Verify(ctx, env)
			if verr == nil {
				t.Fatal("verify passed an instance without the source's security groups")
			}
			if ch := st.Check(ctx, env); ch.State != "blocked" || ch.Fix == "" {
				t.Fatalf("an instance whose security groups changed after the restore: check says %s (%s), want blocked with a fix; verify says: %v", ch.State, ch.Reason, verr)
			}
		})

		// A drifted operational setting is named by Verify. One the restore itself sets blocks the
		// step; one its ModifyDBInstance sets is that call still to make, which Apply makes again.
		t.Run("drifted operational settings are noticed", func(t *testing.T) {
			env := runEnv(t, vals)
			if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-enc"),
				VpcSecurityGroupIds: []string{"sg-0cairn0app000000"}, ApplyImmediately: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			if err := st.Verify(ctx, env); err != nil {
				t.Fatalf("with its security groups back, verify: %v", err)
			}
			cases := []struct {
				name    string
				modify  awsrds.ModifyDBInstanceInput
				field   string
				want    string
				found   string
				state   steps.State
				reapply bool
			}{
				{"backup window (restore sets it)", awsrds.ModifyDBInstanceInput{PreferredBackupWindow: aws.String("03:00-03:30")},
					"PreferredBackupWindow of app-db-enc", "01:30-02:00", "03:00-03:30", steps.Blocked, false},
				{"IOPS (restore sets it)", awsrds.ModifyDBInstanceInput{Iops: aws.Int32(12000)},
					"Iops of app-db-enc", "15000", "12000", steps.Blocked, false},
				{"monitoring (the modify after the restore sets it)", awsrds.ModifyDBInstanceInput{MonitoringInterval: aws.Int32(0)},
					"settings of app-db-enc (MonitoringInterval, MonitoringRoleArn)", "MonitoringInterval=15; MonitoringRoleArn=" + roleARN,
					"MonitoringInterval=0; MonitoringRoleArn=(none)", steps.Ready, true},
				{"maintenance window (the modify after the restore sets it)", awsrds.ModifyDBInstanceInput{PreferredMaintenanceWindow: aws.String("sun:05:00-sun:05:30")},
					"PreferredMaintenanceWindow of app-db-enc", "sat:22:00-sat:22:30", "sun:05:00-sun:05:30", steps.Ready, true},
			}
			for _, c := range cases {
				before := opsOf(ctx, t, rdsc, "app-db-enc")
				in := c.modify
				in.DBInstanceIdentifier, in.ApplyImmediately = aws.String("app-db-enc"), aws.Bool(true)
				if _, err := rdsc.ModifyDBInstance(ctx, &in); err != nil {
					t.Fatalf("%s: %v", c.name, err)
				}
				waitInstance(t, rdsc, "app-db-enc")
				var verr *steps.VerifyError
				if err := st.Verify(ctx, env); !errors.As(err, &verr) || verr.What != c.field || verr.Expected != c.want || verr.Found != c.found {
					t.Fatalf("%s: verify says %v, want a VerifyError: %s, expected %s, found %s", c.name, err, c.field, c.want, c.found)
				}
				if ch := st.Check(ctx, env); ch.State != c.state || c.state == steps.Blocked && ch.Fix == "" {
					t.Fatalf("%s: check says %s (%s), want %s", c.name, ch.State, ch.Reason, c.state)
				}
				if c.reapply {
					if _, err := st.Apply(ctx, env); err != nil {
						t.Fatalf("%s: apply again: %v", c.name, err)
					}
				} else {
					// put back by hand, as the fix says
					back := awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-enc"), ApplyImmediately: aws.Bool(true),
						PreferredBackupWindow: aws.String("01:30-02:00"), Iops: aws.Int32(15000)}
					if _, err := rdsc.ModifyDBInstance(ctx, &back); err != nil {
						t.Fatal(err)
					}
					waitInstance(t, rdsc, "app-db-enc")
				}
				if got := opsOf(ctx, t, rdsc, "app-db-enc"); got != before {
					t.Fatalf("%s: after putting it back:\n got %s\nwant %s", c.name, got, before)
				}
				if ch := st.Check(ctx, env); ch.State != steps.Done {
					t.Fatalf("%s: after putting it back, check says %s (%s)", c.name, ch.State, ch.Reason)
				}
			}
		})
	})

	t.Run("rds-create-instance", func(t *testing.T) {
		// The logical path builds under the preflight's build-id; app-db-new here, so the restore's
		// identifier stays apart.
		env := runEnv(t, mergeVals(vals, map[string]string{"steps.preflight.build-id": "app-db-new"}))
		st := steptest.Decode(t, reg, "rds-create-instance", `
region: "${params.region}"
identifier: "${steps.preflight.build-id}"
settings: "${steps.preflight.settings}"
kms-key: "${steps.preflight.key-arn}"
credentials-secret: "${params.credentials-secret}"
password: "${params.master-password}"
`)
		loginProbe := func(t testing.TB) string {
			return probe(t) + "master of app-db-new logs in with the real password: " + fmt.Sprint(masterLogsIn(ctx, t, rdsc, "app-db-new", twin.DemoPassword)) + "\n"
		}
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: loginProbe, LookAlike: &steptest.LookAlike{
			What: "app-db-new restored from the encrypted copy by hand, without the source's settings",
			Plant: func(t testing.TB) {
				if _, err := rdsc.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBSnapshotIdentifier: aws.String("app-db-pre-kms-enc"),
					DBInstanceIdentifier: aws.String("app-db-new")}); err != nil {
					t.Fatal(err)
				}
				waitInstance(t, rdsc, "app-db-new")
			},
			There: func(t testing.TB) bool {
				is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("app-db-new")})
				return err == nil && len(is.DBInstances) == 1 && aws.ToString(is.DBInstances[0].DBInstanceClass) != "" &&
					!strings.Contains(fmt.Sprint(is.DBInstances[0].VpcSecurityGroups), "sg-0cairn0app000000")
			},
			Remove: func(t testing.TB) {
				if _, err := rdsc.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-new"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
				waitInstanceGone(t, rdsc, "app-db-new")
			},
		}, Tamper: func(t testing.TB) {
			wantLine(t, probe(t), "instance app-db-new available encrypted=true key="+keyARN+" class=db.t3.medium pg=app-postgres15 sgs=[sg-0cairn0app000000] protected=false")
			if got := opsOf(ctx, t, rdsc, "app-db-new"); got != sourceOps {
				t.Fatalf("the created instance's operational settings:\n got %s\nwant %s (the source's)", got, sourceOps)
			}
			wantLine(t, loginProbe(t), "master of app-db-new logs in with the real password: true")
			// The master's password is changed behind cairn's back.
			conn := masterConn(ctx, t, rdsc, "app-db-new", twin.DemoPassword)
			defer conn.Close(context.WithoutCancel(ctx))
			if _, err := conn.Exec(ctx, "ALTER ROLE "+twin.DemoMaster+" PASSWORD 'changed-behind-cairns-back'"); err != nil {
				t.Fatal(err)
			}
		}})

		// The same instance, made by another run (its tag), is not this run's: blocked with the
		// fix, and apply refuses and leaves it as it is. (The contract left its master password
		// changed behind cairn's back, so this run's own is not done here: the restore shows that.)
		t.Run("another run's instance is not done", func(t *testing.T) {
			other := runEnv(t, mergeVals(vals, map[string]string{"steps.preflight.build-id": "app-db-new"}))
			other.RunID = "run-other"
			before := probe(t)
			if ch := st.Check(ctx, other); ch.State != steps.Blocked || ch.Fix == "" || !strings.Contains(ch.Reason, contractRunID) {
				t.Fatalf("app-db-new made by run %s, checked by run-other: want blocked with a fix naming it, got %+v", contractRunID, ch)
			}
			if _, err := st.Apply(ctx, other); err == nil || !strings.Contains(err.Error(), "nothing was") {
				t.Fatalf("apply by run-other over app-db-new: want a refusal, got %v", err)
			}
			if got := probe(t); got != before {
				t.Fatalf("run-other's apply changed app-db-new:\nbefore: %s\nafter:  %s", before, got)
			}
		})

		// A created instance whose operational settings drifted is not the one this step creates.
		t.Run("drifted operational settings are noticed", func(t *testing.T) {
			if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-new"), ApplyImmediately: aws.Bool(true),
				EnableIAMDatabaseAuthentication: aws.Bool(false)}); err != nil {
				t.Fatal(err)
			}
			waitInstance(t, rdsc, "app-db-new")
			var verr *steps.VerifyError
			if err := st.Verify(ctx, env); !errors.As(err, &verr) || verr.What != "EnableIAMDatabaseAuthentication of app-db-new" || verr.Expected != "true" || verr.Found != "false" {
				t.Fatalf("verify says %v, want a VerifyError naming EnableIAMDatabaseAuthentication, expected true, found false", err)
			}
			if ch := st.Check(ctx, env); ch.State != steps.Blocked || ch.Fix == "" {
				t.Fatalf("check says %s (%s), want blocked with a fix", ch.State, ch.Reason)
			}
		})
	})

	t.Run("rds-delete-rebuild", func(t *testing.T) {
		// app-db-new, left by the create's contract, is a half-made encrypted instance made after
		// the insurance snapshot: the cut-back's to delete. Its rollback is declared NotReversible —
		// a deleted instance is not recreated by a cut-back; the rebuild is run again — and Run
		// accepts that after checking the refusal changed nothing.
		st := steptest.Decode(t, reg, "rds-delete-rebuild", `
region: "${params.region}"
instance: "${params.target}"
snapshot: "${params.instance}-pre-kms"
`)
		env := runEnv(t, mergeVals(vals, map[string]string{"target": "app-db-new"}))
		// restoreEncrypted restores the encrypted copy as app-db-new by hand, with the given tags.
		restoreEncrypted := func(t testing.TB, tags ...rdstypes.Tag) {
			if _, err := rdsc.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBSnapshotIdentifier: aws.String("app-db-pre-kms-enc"),
				DBInstanceIdentifier: aws.String("app-db-new"), Tags: tags}); err != nil {
				t.Fatal(err)
			}
			waitInstance(t, rdsc, "app-db-new")
		}
		rename := func(t testing.TB, from, to string) {
			if _, err := rdsc.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String(from), NewDBInstanceIdentifier: aws.String(to),
				ApplyImmediately: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			waitInstance(t, rdsc, to)
		}
		runOf := func(t testing.TB, id string) (string, bool) {
			is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
			if err != nil || len(is.DBInstances) != 1 {
				return "", false
			}
			for _, tg := range is.DBInstances[0].TagList {
				if aws.ToString(tg.Key) == awsstep.TagRunID {
					return aws.ToString(tg.Value), aws.ToBool(is.DBInstances[0].StorageEncrypted)
				}
			}
			return "(none)", aws.ToBool(is.DBInstances[0].StorageEncrypted)
		}
		// app-db-new as the create left it is tagged with this run.
		if run, enc := runOf(t, "app-db-new"); run != contractRunID || !enc {
			t.Fatalf("app-db-new left by the create: run tag %q, encrypted %v; want %q, true", run, enc, contractRunID)
		}
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
			What: "an encrypted instance under app-db-new made by hand from the encrypted copy, after the snapshot, without this run's tag",
			Plant: func(t testing.TB) {
				rename(t, "app-db-new", "app-db-new-ours")
				restoreEncrypted(t)
			},
			There: func(t testing.TB) bool {
				run, enc := runOf(t, "app-db-new")
				return run == "(none)" && enc
			},
			Remove: func(t testing.TB) {
				if _, err := rdsc.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-new"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
				waitInstanceGone(t, rdsc, "app-db-new")
				rename(t, "app-db-new-ours", "app-db-new")
			},
		},
			Tamper: func(t testing.TB) {
				if strings.Contains(probe(t), "instance app-db-new ") {
					t.Fatal("app-db-new is still there after the delete")
				}
				// Another half-made encrypted instance of this run appears under the name (a resumed rebuild).
				restoreEncrypted(t, rdstypes.Tag{Key: aws.String(awsstep.TagRunID), Value: aws.String(contractRunID)})
			}})
		// Another run's encrypted instance under the name is blocked, with the fix, and never deleted.
		if strings.Contains(probe(t), "instance app-db-new ") { // the contract's tampered one, if still there
			if _, err := rdsc.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-new"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
			waitInstanceGone(t, rdsc, "app-db-new")
		}
		restoreEncrypted(t, rdstypes.Tag{Key: aws.String(awsstep.TagRunID), Value: aws.String("run-other")})
		before := probe(t)
		if ch := st.Check(ctx, env); ch.State != steps.Blocked || ch.Fix == "" || !strings.Contains(ch.Reason, "run-other") {
			t.Fatalf("another run's encrypted instance: want blocked with a fix naming run-other, got %+v", ch)
		}
		if _, err := st.Apply(ctx, env); err == nil {
			t.Fatal("apply deleted (or passed over) another run's encrypted instance without an error")
		}
		if got := probe(t); got != before {
			t.Fatalf("delete-rebuild touched another run's instance:\nbefore: %s\nafter:  %s", before, got)
		}
		if _, err := rdsc.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("app-db-new"), SkipFinalSnapshot: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		waitInstanceGone(t, rdsc, "app-db-new")
		// Never the source: an unencrypted instance under the name is left alone.
		src := runEnv(t, mergeVals(vals, map[string]string{"target": twin.DemoInstance}))
		before = probe(t)
		if ch := st.Check(ctx, src); ch.State != "done" {
			t.Fatalf("the unencrypted source must not be a delete candidate, got %+v", ch)
		}
		if _, err := st.Apply(ctx, src); err != nil {
			t.Fatal(err)
		}
		if got := probe(t); got != before {
			t.Fatalf("delete-rebuild touched the source:\nbefore: %s\nafter:  %s", before, got)
		}
	})

	t.Run("rds-delete", func(t *testing.T) {
		// The old unencrypted instance is deleted, keeping a final snapshot. Its rollback is declared
		// NotReversible — a deleted instance comes back only by restoring a snapshot, which is the
		// cut-back's step (rds-restore) — and Run accepts that after checking the refusal changed nothing.
		st := steptest.Decode(t, reg, "rds-delete", `
region: "${params.region}"
instance: "${params.instance}"
final-snapshot: "${params.instance}-final-unencrypted"
require-snapshot: "${params.instance}-pre-kms"
encrypted: "false"
final-snapshot-note: "the application roles are blocked in it: ALTER ROLE app_rw CONNECTION LIMIT 20;"
`)
		env := runEnv(t, vals)
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
			What: "a snapshot of app-db already under the final snapshot's name, taken earlier",
			Plant: func(t testing.TB) {
				if _, err := rdsc.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
					DBSnapshotIdentifier: aws.String("app-db-final-unencrypted")}); err != nil {
					t.Fatal(err)
				}
				waitSnapshot(t, rdsc, "app-db-final-unencrypted")
				waitInstance(t, rdsc, twin.DemoInstance)
			},
			There: func(t testing.TB) bool {
				return strings.Contains(probe(t), "snapshot app-db-final-unencrypted ") && strings.Contains(probe(t), "instance app-db ")
			},
			Remove: func(t testing.TB) {
				if _, err := rdsc.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("app-db-final-unencrypted")}); err != nil {
					t.Fatal(err)
				}
				waitSnapshotGone(t, rdsc, "app-db-final-unencrypted")
			},
		}, Tamper: func(t testing.TB) {
			// What apply left: the instance gone, its final snapshot kept.
			if p := probe(t); strings.Contains(p, "instance app-db ") {
				t.Fatalf("app-db is still there after the delete:\n%s", p)
			}
			wantLine(t, probe(t), "snapshot app-db-final-unencrypted of app-db available encrypted=false key=")
			// The instance comes back under its name behind cairn's back (restored from the insurance snapshot).
			if _, err := rdsc.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBSnapshotIdentifier: aws.String("app-db-pre-kms"),
				DBInstanceIdentifier: aws.String(twin.DemoInstance)}); err != nil {
				t.Fatal(err)
			}
			waitInstance(t, rdsc, twin.DemoInstance)
		}})
		// What its restore must know is said once the snapshot is there.
		if out := env.Out.(*steptest.Sink).Text(); !strings.Contains(out, "final snapshot app-db-final-unencrypted: the application roles are blocked in it: ALTER ROLE app_rw CONNECTION LIMIT 20;") {
			t.Errorf("the delete did not say what the final snapshot holds:\n%s", out)
		}
	})
}

// contractRunID is the run the rebuild kinds' contract runs as: what they make is tagged with it.
const contractRunID = "run-rebuild-contract"

// runEnv is steptest.Env for the run contractRunID.
func runEnv(t testing.TB, vals map[string]string) *steps.Env {
	e := steptest.Env(t, vals)
	e.RunID = contractRunID
	return e
}

// opsOf describes an instance's operational settings as the twin's API reports them (no identifier,
// so a rebuilt instance's line equals its source's).
func opsOf(ctx context.Context, t testing.TB, c *awsrds.Client, id string) string {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		t.Fatal(err)
	}
	i := out.DBInstances[0]
	og := ""
	for _, m := range i.OptionGroupMemberships {
		og += aws.ToString(m.OptionGroupName)
	}
	pi := fmt.Sprint(aws.ToBool(i.PerformanceInsightsEnabled))
	if aws.ToBool(i.PerformanceInsightsEnabled) {
		pi += fmt.Sprintf("/%s/%dd", aws.ToString(i.PerformanceInsightsKMSKeyId), aws.ToInt32(i.PerformanceInsightsRetentionPeriod))
	}
	mon := fmt.Sprintf("%ds", aws.ToInt32(i.MonitoringInterval))
	if aws.ToInt32(i.MonitoringInterval) > 0 {
		mon += "/" + aws.ToString(i.MonitoringRoleArn)
	}
	return fmt.Sprintf("option-group=%s backup=%s/%dd maintenance=%s minor-upgrades=%v iam-auth=%v logs=%v %s %dGiB iops=%d throughput=%d max-storage=%d ca=%s pi=%s monitoring=%s license=%s",
		og, aws.ToString(i.PreferredBackupWindow), aws.ToInt32(i.BackupRetentionPeriod), aws.ToString(i.PreferredMaintenanceWindow),
		aws.ToBool(i.AutoMinorVersionUpgrade), aws.ToBool(i.IAMDatabaseAuthenticationEnabled), i.EnabledCloudwatchLogsExports,
		aws.ToString(i.StorageType), aws.ToInt32(i.AllocatedStorage), aws.ToInt32(i.Iops), aws.ToInt32(i.StorageThroughput),
		aws.ToInt32(i.MaxAllocatedStorage), aws.ToString(i.CACertificateIdentifier), pi, mon, aws.ToString(i.LicenseModel))
}

// wantLine fails unless the probe's description has the line.
func wantLine(t testing.TB, probe, line string) {
	t.Helper()
	if !slices.Contains(strings.Split(probe, "\n"), line) {
		t.Fatalf("the probe does not show %q:\n%s", line, probe)
	}
}

func mergeVals(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// rebuildProbe describes every instance, snapshot and the key as the twin's API reports them.
func rebuildProbe(ctx context.Context, rdsc *awsrds.Client, kmsc *awskms.Client, keyARN string) func(t testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		var lines []string
		is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, i := range is.DBInstances {
			var sgs []string
			for _, g := range i.VpcSecurityGroups {
				sgs = append(sgs, aws.ToString(g.VpcSecurityGroupId))
			}
			pg := ""
			if len(i.DBParameterGroups) > 0 {
				pg = aws.ToString(i.DBParameterGroups[0].DBParameterGroupName)
			}
			lines = append(lines, fmt.Sprintf("instance %s %s encrypted=%v key=%s class=%s pg=%s sgs=%v protected=%v",
				aws.ToString(i.DBInstanceIdentifier), aws.ToString(i.DBInstanceStatus), aws.ToBool(i.StorageEncrypted), aws.ToString(i.KmsKeyId),
				aws.ToString(i.DBInstanceClass), pg, sgs, aws.ToBool(i.DeletionProtection)))
		}
		ss, err := rdsc.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss.DBSnapshots {
			lines = append(lines, fmt.Sprintf("snapshot %s of %s %s encrypted=%v key=%s", aws.ToString(s.DBSnapshotIdentifier),
				aws.ToString(s.DBInstanceIdentifier), aws.ToString(s.Status), aws.ToBool(s.Encrypted), aws.ToString(s.KmsKeyId)))
		}
		slices.Sort(lines)
		k, err := kmsc.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String(keyARN)})
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, fmt.Sprintf("key %s enabled=%v", keyARN, k.KeyMetadata.Enabled))
		return strings.Join(lines, "\n") + "\n"
	}
}

func waitFor(t testing.TB, what string, done func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := done()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: timed out", what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func waitSnapshot(t testing.TB, c *awsrds.Client, id string) {
	t.Helper()
	waitFor(t, "snapshot "+id+" available", func() (bool, error) {
		out, err := c.DescribeDBSnapshots(context.Background(), &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: &id})
		if err != nil {
			return false, err
		}
		return len(out.DBSnapshots) == 1 && aws.ToString(out.DBSnapshots[0].Status) == "available", nil
	})
}

func waitSnapshotGone(t testing.TB, c *awsrds.Client, id string) {
	t.Helper()
	waitFor(t, "snapshot "+id+" gone", func() (bool, error) {
		out, err := c.DescribeDBSnapshots(context.Background(), &awsrds.DescribeDBSnapshotsInput{})
		if err != nil {
			return false, err
		}
		for _, s := range out.DBSnapshots {
			if aws.ToString(s.DBSnapshotIdentifier) == id {
				return false, nil
			}
		}
		return true, nil
	})
}

func waitInstance(t testing.TB, c *awsrds.Client, id string) {
	t.Helper()
	waitFor(t, "instance "+id+" available", func() (bool, error) {
		out, err := c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{})
		if err != nil {
			return false, err
		}
		for _, i := range out.DBInstances {
			if aws.ToString(i.DBInstanceIdentifier) == id {
				return aws.ToString(i.DBInstanceStatus) == "available", nil
			}
		}
		return false, nil
	})
}

func waitInstanceGone(t testing.TB, c *awsrds.Client, id string) {
	t.Helper()
	waitFor(t, "instance "+id+" gone", func() (bool, error) {
		out, err := c.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{})
		if err != nil {
			return false, err
		}
		for _, i := range out.DBInstances {
			if aws.ToString(i.DBInstanceIdentifier) == id {
				return false, nil
			}
		}
		return true, nil
	})
}

// masterConn logs in to an instance as the demo master, over TCP with SCRAM, as an application would.
func masterConn(ctx context.Context, t testing.TB, c *awsrds.Client, id, password string) *pgx.Conn {
	t.Helper()
	conn, err := masterLogin(ctx, c, id, password)
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func masterLogin(ctx context.Context, c *awsrds.Client, id, password string) (*pgx.Conn, error) {
	out, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
	if err != nil {
		return nil, err
	}
	i := out.DBInstances[0]
	if i.Endpoint == nil {
		return nil, fmt.Errorf("instance %s has no endpoint", id)
	}
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=postgres sslmode=prefer connect_timeout=10",
		aws.ToString(i.Endpoint.Address), aws.ToInt32(i.Endpoint.Port)))
	if err != nil {
		return nil, err
	}
	cfg.User, cfg.Password = twin.DemoMaster, password
	return pgx.ConnectConfig(ctx, cfg)
}

// masterLogsIn says whether the master logs in to the instance with password (false when it is absent).
func masterLogsIn(ctx context.Context, t testing.TB, c *awsrds.Client, id, password string) bool {
	t.Helper()
	out, err := c.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, i := range out.DBInstances {
		found = found || aws.ToString(i.DBInstanceIdentifier) == id && aws.ToString(i.DBInstanceStatus) == "available"
	}
	if !found {
		return false
	}
	conn, err := masterLogin(ctx, c, id, password)
	if err != nil {
		return false
	}
	conn.Close(context.WithoutCancel(ctx))
	return true
}
