package awsstep

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Restore is the `rds-restore` kind: RestoreDBInstanceFromDBSnapshot under Identifier, copying the
// source's settings recorded by the preflight (class, parameter group, subnet group, security
// groups — which a restore does not copy by itself —, port, tags, storage type, multi-AZ, public
// access, deletion protection, backup retention and the operational settings a restore takes: option
// group, backup window, minor-version upgrades, IAM authentication, log exports, provisioned IOPS and
// throughput, CA certificate, license model), then wait until it answers and is available. What a
// restore cannot take (maintenance window, storage autoscaling, Performance Insights, Enhanced
// Monitoring) is set right after by one ModifyDBInstance (ApplyImmediately), waited for until the
// instance is available with those settings. Encryption follows the snapshot: with KMSKey set the
// instance must come out encrypted with that key, without it unencrypted (the cut-back restoring the
// original). Rollback deletes the restored instance.
type Restore struct {
	Region     `yaml:",inline"`
	Snapshot   ref.Template `yaml:"snapshot"`
	Identifier ref.Template `yaml:"identifier"`
	Settings   ref.Template `yaml:"settings"`
	KMSKey     ref.Template `yaml:"kms-key"`
	// OnlyIfSnapshot (cut-backs) makes a missing snapshot mean "nothing to restore" (Done).
	OnlyIfSnapshot bool `yaml:"only-if-snapshot"`
}

// registerRestore adds the `rds-restore` kind.
func registerRestore(r *steps.Registry) {
	r.Register("rds-restore", "RestoreDBInstanceFromDBSnapshot copying the source's settings, and wait", func() steps.Step { return &Restore{} })
}

// OutputNames declares the outputs.
func (r *Restore) OutputNames() []string { return []string{"arn", "endpoint", "resource-id"} }

// Validate checks the parameters.
func (r *Restore) Validate() error {
	if r.Snapshot.IsZero() || r.Identifier.IsZero() || r.Settings.IsZero() {
		return fmt.Errorf("give `snapshot:`, `identifier:` and `settings:` (the preflight's settings output)")
	}
	return nil
}

// input is the restore call and the settings it copies.
func (r *Restore) input(env *steps.Env) (*rds.RestoreDBInstanceFromDBSnapshotInput, Settings, error) {
	rv := resolving(env)
	snapshot, id, settings := rv.text(r.Snapshot), rv.text(r.Identifier), rv.text(r.Settings)
	if err := rv.err; err != nil {
		return nil, Settings{}, err
	}
	s, err := ParseSettings(settings)
	if err != nil {
		return nil, s, err
	}
	in := &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBSnapshotIdentifier: aws.String(snapshot), DBInstanceIdentifier: aws.String(id),
		DBInstanceClass: aws.String(s.Class), Port: aws.Int32(s.Port), MultiAZ: aws.Bool(s.MultiAZ),
		PubliclyAccessible: aws.Bool(s.PubliclyAccessible), CopyTagsToSnapshot: aws.Bool(s.CopyTagsToSnapshot),
		DeletionProtection: aws.Bool(s.DeletionProtection), Tags: runTags(env, s.Tags, s.ResourceID),
	}
	p := s.placement()
	in.StorageType, in.DBParameterGroupName, in.DBSubnetGroupName = p.storageType, p.parameterGroup, p.subnetGroup
	in.VpcSecurityGroupIds, in.AvailabilityZone = p.securityGroups, p.availabilityZone
	s.toRestore(in)
	return in, s, nil
}

// Describe lists the calls with every input.
func (r *Restore) Describe(env *steps.Env) []steps.Action {
	in, s, err := r.input(env)
	if err != nil {
		return []steps.Action{call("rds RestoreDBInstanceFromDBSnapshot", "DBSnapshotIdentifier", env.Describe(r.Snapshot),
			"DBInstanceIdentifier", env.Describe(r.Identifier), "settings", "copied from the source (known after apply)"),
			call("rds ModifyDBInstance", "DBInstanceIdentifier", env.Describe(r.Identifier), "ApplyImmediately", "true",
				"settings", "what the restore cannot take (maintenance window, storage autoscaling, Performance Insights, Enhanced Monitoring), copied from the source (known after apply)")}
	}
	id := *in.DBInstanceIdentifier
	acts := []steps.Action{
		callOf("rds RestoreDBInstanceFromDBSnapshot", in, nil),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + id + " until it answers and is available"},
	}
	if mod := s.afterRestore(id); mod != nil {
		acts = append(acts, callOf("rds ModifyDBInstance", mod, nil),
			steps.Action{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + id + " until it is available with these settings"})
	}
	return acts
}

// judgeEncryption says whether inst is encrypted as wanted ("" key: unencrypted).
func judgeEncryption(ctx context.Context, c *Clients, inst rdstypes.DBInstance, key string) (bool, string, error) {
	if key == "" {
		return !aws.ToBool(inst.StorageEncrypted), "unencrypted", nil
	}
	arn, match, err := c.resolveKey(ctx, key, inst.StorageEncrypted, inst.KmsKeyId)
	if err != nil {
		return false, "", err
	}
	return match, "encrypted with " + arn, nil
}

// Check looks at the identifier.
func (r *Restore) Check(ctx context.Context, env *steps.Env) steps.Check {
	rv := resolving(env)
	id, key, snapshot := rv.text(r.Identifier), rv.text(r.KMSKey), rv.text(r.Snapshot)
	if err := rv.err; err != nil {
		return unknownOr(err, "")
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	inst, ok, err := c.Instance(ctx, id)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !ok {
		if r.OnlyIfSnapshot {
			if _, have, err := c.Snapshot(ctx, snapshot); err != nil {
				return steps.CannotTell("%v", err)
			} else if !have {
				return steps.AlreadyDone("no snapshot %s: nothing to restore", snapshot)
			}
		}
		return steps.ReadyTo(steps.Create, "restore snapshot %s as %s", snapshot, id)
	}
	good, want, err := judgeEncryption(ctx, c, inst, key)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !good {
		return steps.BlockedBy(fmt.Sprintf("instance %s exists but is not %s", id, want), "this is not the instance this step restores: rename or delete it, or choose another identifier")
	}
	in, s, err := r.input(env)
	if err != nil {
		return unknownOr(err, "")
	}
	if ours, why := r.ours(env, inst, s); !ours {
		return steps.BlockedBy(why, fixForeignInstance(id))
	}
	if st := aws.ToString(inst.DBInstanceStatus); st != "available" {
		return steps.ReadyTo(steps.Create, "instance %s is %s → wait for it", id, st)
	}
	if err := verifyInstance(ctx, c, id, key, in.DBInstanceClass, in.DBParameterGroupName, in.VpcSecurityGroupIds, s, afterRestoreFields); err != nil {
		// restored, but not as this step restores it (settings changed since): do not call it done
		return steps.BlockedBy(fmt.Sprintf("instance %s exists but differs from what this step restores: %v", id, err),
			"put the settings back with `aws rds modify-db-instance --db-instance-identifier "+id+" …` (or delete the instance and run this step again)")
	}
	if ms := only(diffSettings(s, SettingsOf(inst)), true, afterRestoreFields); len(ms) > 0 {
		// the settings the restore cannot take are this step's second call: not made yet (or
		// changed since), so it is made again
		return steps.ReadyTo(steps.Update, "instance %s is restored; %v → ModifyDBInstance", id, mismatchError(id, ms))
	}
	return steps.AlreadyDone("instance %s exists, %s, available, settings as restored", id, want)
}

// ours says whether inst, found under the step's identifier, is this run's restore (tagged with
// this run's id) or — for a restore of the unencrypted original (a cut-back) — the source itself,
// never deleted (its DbiResourceId is the one the preflight recorded). Anything else is a look-alike.
func (r *Restore) ours(env *steps.Env, inst rdstypes.DBInstance, s Settings) (bool, string) {
	ok, why := instanceIsOurs(env, inst)
	if ok {
		return true, ""
	}
	if key, _ := env.Text(r.KMSKey); key == "" && s.ResourceID != "" && aws.ToString(inst.DbiResourceId) == s.ResourceID {
		return true, ""
	}
	return false, why
}

// Apply restores (unless being restored already), waits, then sets what the restore cannot take
// (unless the instance has it already) and waits for that.
func (r *Restore) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	in, s, err := r.input(env)
	if err != nil {
		return nil, err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	id := *in.DBInstanceIdentifier
	if inst, ok, err := c.Instance(ctx, id); err != nil {
		return nil, err
	} else if ok {
		if ours, why := r.ours(env, inst, s); !ours {
			return nil, steps.Failed(fixForeignInstance(id), "%s: nothing was restored", why)
		}
	}
	if _, ok, err := c.Instance(ctx, id); err != nil {
		return nil, err
	} else if !ok {
		if _, err := c.RDS.RestoreDBInstanceFromDBSnapshot(ctx, in); err != nil {
			return nil, withKMSFix(fmt.Errorf("RestoreDBInstanceFromDBSnapshot %s → %s: %w", *in.DBSnapshotIdentifier, id, err), r.keyOf(env, *in.DBSnapshotIdentifier), "instance "+id, env)
		}
		env.Info("restoring " + *in.DBSnapshotIdentifier + " as " + id)
	} else {
		env.Info("instance " + id + " is already being restored: waiting for it")
	}
	inst, err := c.WaitInstance(ctx, env, id)
	if err != nil {
		return nil, err
	}
	if mod := s.afterRestore(id); mod != nil && len(only(diffSettings(s, SettingsOf(inst)), true, afterRestoreFields)) > 0 {
		if _, err := c.RDS.ModifyDBInstance(ctx, mod); err != nil {
			return nil, steps.Failed("fix the cause and run this step again, which only makes this call", "ModifyDBInstance %s (the settings a restore cannot take): %w (instance %s is restored)", id, err, id)
		}
		env.Info("setting what a restore cannot take on " + id + ": " + s.Ops.Summary())
		if inst, err = c.WaitSettings(ctx, env, id, s, afterRestoreFields); err != nil {
			return nil, err
		}
	}
	return instanceOutputs(inst), nil
}

func instanceOutputs(inst rdstypes.DBInstance) steps.Outputs {
	o := steps.Outputs{}.Set("arn", aws.ToString(inst.DBInstanceArn)).Set("resource-id", aws.ToString(inst.DbiResourceId))
	if ep, err := EndpointOf(inst); err == nil {
		o.Set("endpoint", fmt.Sprintf("%s:%d", ep.Host, ep.Port))
	}
	return o
}

// Observe reads the outputs of an instance found available.
func (r *Restore) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return observeInstance(ctx, env, r.Region, r.Identifier)
}

func observeInstance(ctx context.Context, env *steps.Env, region Region, ident ref.Template) (steps.Outputs, error) {
	rv := resolving(env)
	id := rv.text(ident)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := region.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	inst, ok, err := c.Instance(ctx, id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("instance %s not found", id)
	}
	return instanceOutputs(inst), nil
}

// Verify proves the instance is available with the wanted encryption and the source's settings,
// the operational ones included; a difference names the setting, what was wanted and what is there.
func (r *Restore) Verify(ctx context.Context, env *steps.Env) error {
	in, s, err := r.input(env)
	if err != nil {
		return err
	}
	key, err := env.Text(r.KMSKey)
	if err != nil {
		return err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return err
	}
	return verifyInstance(ctx, c, *in.DBInstanceIdentifier, key, in.DBInstanceClass, in.DBParameterGroupName, in.VpcSecurityGroupIds, s, nil)
}

// verifyInstance proves the instance id is available, encrypted as wanted, with the class, parameter
// group, security groups and the operational settings of want (except those named in skip).
func verifyInstance(ctx context.Context, c *Clients, id, key string, class, pgroup *string, sgs []string, want Settings, skip []string) error {
	inst, ok, err := c.Instance(ctx, id)
	if err != nil {
		return err
	}
	if !ok || aws.ToString(inst.DBInstanceStatus) != "available" {
		return &steps.VerifyError{What: "instance " + id, Expected: "available", Found: statusOr(aws.ToString(inst.DBInstanceStatus), ok)}
	}
	good, wantKey, err := judgeEncryption(ctx, c, inst, key)
	if err != nil {
		return err
	}
	if !good {
		return &steps.VerifyError{What: "encryption of " + id, Expected: wantKey, Found: fmt.Sprintf("encrypted=%v key=%s", aws.ToBool(inst.StorageEncrypted), aws.ToString(inst.KmsKeyId))}
	}
	s := SettingsOf(inst)
	if class != nil && s.Class != *class {
		return &steps.VerifyError{What: "class of " + id, Expected: *class, Found: s.Class}
	}
	if pgroup != nil && s.ParameterGroup != *pgroup {
		return &steps.VerifyError{What: "parameter group of " + id, Expected: *pgroup, Found: s.ParameterGroup}
	}
	if len(sgs) > 0 && strings.Join(s.SecurityGroups, ",") != strings.Join(sgs, ",") {
		return &steps.VerifyError{What: "security groups of " + id, Expected: strings.Join(sgs, ","), Found: strings.Join(s.SecurityGroups, ",")}
	}
	return mismatchError(id, only(diffSettings(want, s), false, skip))
}

// Rollback deletes the restored instance (turning its deletion protection off first).
func (r *Restore) Rollback(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	id, key := rv.text(r.Identifier), rv.text(r.KMSKey)
	if err := rv.err; err != nil {
		return err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return err
	}
	return deleteMade(ctx, env, c, id, key)
}

// deleteMade deletes an instance a step made, after checking it is the one (its encryption), with
// deletion protection turned off first; it waits until it is gone.
func deleteMade(ctx context.Context, env *steps.Env, c *Clients, id, key string) error {
	return deleteMadeKeeping(ctx, env, c, id, key, "")
}

// deleteMadeKeeping is deleteMade keeping a final snapshot named final ("" none); it does not wait
// for the snapshot.
func deleteMadeKeeping(ctx context.Context, env *steps.Env, c *Clients, id, key, final string) error {
	inst, ok, err := c.Instance(ctx, id)
	if err != nil || !ok {
		return err
	}
	if key != "*" {
		good, want, err := judgeEncryption(ctx, c, inst, key)
		if err != nil {
			return err
		}
		if !good {
			return fmt.Errorf("instance %s is not %s: it is not the one this step made, so it is left alone", id, want)
		}
	}
	if ours, why := instanceIsOurs(env, inst); !ours {
		return fmt.Errorf("%s: so it is left alone", why)
	}
	if final != "" && aws.ToString(inst.DBInstanceStatus) == "deleting" {
		return c.WaitInstanceGone(ctx, env, id) // an interrupted delete: its final snapshot is on its way
	}
	if inst, err = c.WaitInstance(ctx, env, id); err != nil {
		return err
	}
	if aws.ToBool(inst.DeletionProtection) {
		if _, err := c.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: &id, DeletionProtection: aws.Bool(false), ApplyImmediately: aws.Bool(true)}); err != nil {
			return fmt.Errorf("turn off deletion protection of %s: %w", id, err)
		}
	}
	if final == "" {
		env.Info("deleting instance " + id + " (made by this run)")
		return c.DeleteInstance(ctx, env, id)
	}
	env.Info("deleting instance " + id + " (made by this run), keeping final snapshot " + final)
	if _, err := c.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: &id, FinalDBSnapshotIdentifier: &final}); err != nil && !IsNotFound(err) {
		return fmt.Errorf("DeleteDBInstance %s (final snapshot %s): %w", id, final, err)
	}
	return c.WaitInstanceGone(ctx, env, id)
}

// keyOf is the key the restore encrypts with, as given, or the snapshot's key by its name.
func (r *Restore) keyOf(env *steps.Env, snapshot string) string {
	if key, _ := env.Text(r.KMSKey); key != "" {
		return key
	}
	return "<the key of snapshot " + snapshot + ">"
}
