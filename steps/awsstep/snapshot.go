package awsstep

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Snapshot is the `rds-snapshot` kind: CreateDBSnapshot of an instance, tagged with this run's id
// and the instance's DbiResourceId, then wait until it is available, reporting PercentProgress. A
// snapshot under the name is this run's only with its DbiResourceId and this run's tag: one of the
// same instance taken by another run (an older state) is blocked, never done. A snapshot found being created is waited for, not made
// again. Rollback deletes it — but never while its instance is gone (it is then the only copy).
type Snapshot struct {
	Region   `yaml:",inline"`
	Instance ref.Template `yaml:"instance"`
	Snapshot ref.Template `yaml:"snapshot"`
}

// registerSnapshot adds the `rds-snapshot` kind.
func registerSnapshot(r *steps.Registry) {
	r.Register("rds-snapshot", "CreateDBSnapshot and wait, with PercentProgress", func() steps.Step { return &Snapshot{} })
}

// OutputNames declares the outputs.
func (s *Snapshot) OutputNames() []string { return []string{"snapshot-arn", "snapshot-id"} }

// Validate checks the parameters.
func (s *Snapshot) Validate() error {
	if s.Instance.IsZero() || s.Snapshot.IsZero() {
		return fmt.Errorf("give `instance:` and `snapshot:`")
	}
	return nil
}

// Describe lists the calls.
func (s *Snapshot) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		call("rds CreateDBSnapshot", "DBInstanceIdentifier", env.Describe(s.Instance), "DBSnapshotIdentifier", env.Describe(s.Snapshot),
			"Tags", "made-by=cairn,"+TagRunID+"="+env.DescribeRunID()+","+TagSourceResourceID+"=<the instance's DbiResourceId>"),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBSnapshots " + env.Describe(s.Snapshot) + " until Status = available (PercentProgress shown)"},
	}
}

// Check looks at the snapshot.
func (s *Snapshot) Check(ctx context.Context, env *steps.Env) steps.Check {
	rv := resolving(env)
	instance, snapshot := rv.text(s.Instance), rv.text(s.Snapshot)
	if err := rv.err; err != nil {
		return unknownOr(err, "")
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	snap, ok, err := c.Snapshot(ctx, snapshot)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if ok {
		if why, err := s.foreign(ctx, env, c, snap, instance); err != nil {
			return steps.CannotTell("%v", err)
		} else if why != "" {
			return steps.BlockedBy(why, fmt.Sprintf("delete that snapshot if nothing needs it (aws rds delete-db-snapshot --db-snapshot-identifier %s), or choose another snapshot name", snapshot))
		}
		if aws.ToString(snap.Status) == "available" {
			return steps.AlreadyDone("snapshot %s of %s (resource %s) is available", snapshot, instance, aws.ToString(snap.DbiResourceId))
		}
		return steps.ReadyTo(steps.Create, "snapshot %s is being created (%s, %d%%) → wait for it", snapshot, aws.ToString(snap.Status), aws.ToInt32(snap.PercentProgress))
	}
	inst, ok, err := c.Instance(ctx, instance)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !ok {
		return steps.BlockedBy("instance "+instance+" does not exist", "check the identifier")
	}
	if st := aws.ToString(inst.DBInstanceStatus); st != "available" {
		return steps.ReadyTo(steps.Create, "instance %s is %s: the snapshot will be taken once it is available", instance, st)
	}
	return steps.ReadyTo(steps.Create, "snapshot %s of %s → create", snapshot, instance)
}

// foreign says why a snapshot found under the step's name is not of the instance the step
// snapshots ("" when it is): another instance's name, or the same name borne by another instance
// (an earlier one, deleted and made again, or one renamed into the name): the instance's
// DbiResourceId never changes, so the snapshot's must be the instance's as it is now.
func (s *Snapshot) foreign(ctx context.Context, env *steps.Env, c *Clients, snap rdstypes.DBSnapshot, instance string) (string, error) {
	id := aws.ToString(snap.DBSnapshotIdentifier)
	if src := aws.ToString(snap.DBInstanceIdentifier); src != instance {
		return fmt.Sprintf("snapshot %s exists but is of instance %s, not %s", id, src, instance), nil
	}
	// of this instance, but taken by another run (or by hand): an older state of its data, which
	// a cut-back would restore as if it were this run's insurance
	if ok, why := madeByThisRun(env, snap.TagList); !ok {
		return fmt.Sprintf("snapshot %s of %s (resource %s, taken %s) is not this run's: %s",
			id, instance, aws.ToString(snap.DbiResourceId), timeText(snap.SnapshotCreateTime), why), nil
	}
	inst, ok, err := c.Instance(ctx, instance)
	if err != nil || !ok {
		return "", err // the instance is gone (deleted by a later step): its snapshot cannot be told apart
	}
	if have, want := aws.ToString(snap.DbiResourceId), aws.ToString(inst.DbiResourceId); have != want {
		return fmt.Sprintf("snapshot %s is of an instance that was named %s (resource %s, taken %s), not of the instance %s is now (resource %s)",
			id, instance, have, timeText(snap.SnapshotCreateTime), instance, want), nil
	}
	return "", nil
}

func timeText(t *time.Time) string {
	if t == nil {
		return "at an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

// Apply creates (unless being created already) and waits.
func (s *Snapshot) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rv := resolving(env)
	instance, snapshot := rv.text(s.Instance), rv.text(s.Snapshot)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	if snap, ok, err := c.Snapshot(ctx, snapshot); err != nil {
		return nil, err
	} else if ok {
		if why, err := s.foreign(ctx, env, c, snap, instance); err != nil {
			return nil, err
		} else if why != "" {
			return nil, steps.Failed("delete that snapshot or choose another name", "%s: nothing was created", why)
		}
	}
	if _, ok, err := c.Snapshot(ctx, snapshot); err != nil {
		return nil, err
	} else if !ok {
		inst, err := c.WaitInstance(ctx, env, instance)
		if err != nil {
			return nil, err
		}
		tags := runTags(env, []rdstypes.Tag{{Key: aws.String("made-by"), Value: aws.String("cairn")}}, aws.ToString(inst.DbiResourceId))
		if _, err := c.RDS.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: &instance, DBSnapshotIdentifier: &snapshot, Tags: tags}); err != nil {
			return nil, fmt.Errorf("CreateDBSnapshot %s: %w", snapshot, err)
		}
		env.Info("creating snapshot " + snapshot + " of " + instance)
	} else {
		env.Info("snapshot " + snapshot + " is already being created: waiting for it")
	}
	snap, err := c.WaitSnapshot(ctx, env, snapshot)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("snapshot-arn", aws.ToString(snap.DBSnapshotArn)).Set("snapshot-id", snapshot), nil
}

// Observe reads the outputs of a snapshot found available.
func (s *Snapshot) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rv := resolving(env)
	snapshot := rv.text(s.Snapshot)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	snap, ok, err := c.Snapshot(ctx, snapshot)
	if err != nil || !ok {
		return nil, fmt.Errorf("snapshot %s: not found (%v)", snapshot, err)
	}
	return steps.Outputs{}.Set("snapshot-arn", aws.ToString(snap.DBSnapshotArn)).Set("snapshot-id", snapshot), nil
}

// Verify proves the snapshot is available (Check has bound it to the instance and this run).
func (s *Snapshot) Verify(ctx context.Context, env *steps.Env) error {
	snapshot, err := env.Text(s.Snapshot)
	if err != nil {
		return err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return err
	}
	snap, ok, err := c.Snapshot(ctx, snapshot)
	if err != nil {
		return err
	}
	if !ok || aws.ToString(snap.Status) != "available" {
		return &steps.VerifyError{What: "snapshot " + snapshot, Expected: "available", Found: statusOr(aws.ToString(snap.Status), ok)}
	}
	return nil
}

// Rollback deletes the snapshot, unless its instance is gone.
func (s *Snapshot) Rollback(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	instance, snapshot := rv.text(s.Instance), rv.text(s.Snapshot)
	if err := rv.err; err != nil {
		return err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return err
	}
	if _, ok, err := c.Instance(ctx, instance); err != nil {
		return err
	} else if !ok {
		return steps.NotReversible("instance %s is gone, so snapshot %s is kept: it is the only copy of its data", instance, snapshot)
	}
	if _, ok, err := c.Snapshot(ctx, snapshot); err != nil || !ok {
		return err
	}
	if _, err := c.WaitSnapshot(ctx, env, snapshot); err != nil {
		return err
	}
	return c.DeleteSnapshot(ctx, env, snapshot)
}

// CopySnapshot is the `rds-copy-snapshot` kind: CopyDBSnapshot with a KMS key (this is what
// encrypts: RDS cannot encrypt an instance in place), tags copied, then wait. Rollback deletes the copy.
type CopySnapshot struct {
	Region `yaml:",inline"`
	Source ref.Template `yaml:"source"`
	Target ref.Template `yaml:"target"`
	KMSKey ref.Template `yaml:"kms-key"`
}

// registerCopySnapshot adds the `rds-copy-snapshot` kind.
func registerCopySnapshot(r *steps.Registry) {
	r.Register("rds-copy-snapshot", "CopyDBSnapshot with a KMS key and wait", func() steps.Step { return &CopySnapshot{} })
}

// OutputNames declares the outputs.
func (s *CopySnapshot) OutputNames() []string { return []string{"snapshot-arn", "snapshot-id"} }

// Validate checks the parameters.
func (s *CopySnapshot) Validate() error {
	if s.Source.IsZero() || s.Target.IsZero() || s.KMSKey.IsZero() {
		return fmt.Errorf("give `source:`, `target:` and `kms-key:`")
	}
	return nil
}

// Describe lists the calls.
func (s *CopySnapshot) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		call("rds CopyDBSnapshot", "SourceDBSnapshotIdentifier", env.Describe(s.Source), "TargetDBSnapshotIdentifier", env.Describe(s.Target),
			"KmsKeyId", env.Describe(s.KMSKey), "CopyTags", "true"),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBSnapshots " + env.Describe(s.Target) + " until Status = available (PercentProgress shown)"},
	}
}

// copiedFrom says why a snapshot found under the copy's name is not a copy of the source snapshot
// ("" when it is). A copy keeps its source's DbiResourceId (the instance's) and its
// OriginalSnapshotCreateTime (when CreateDBSnapshot ran), so both must be the source's: a copy of
// another snapshot — another instance's, or an older one of the same instance — is not this copy.
func copiedFrom(ctx context.Context, c *Clients, cp rdstypes.DBSnapshot, source string) (string, error) {
	src, ok, err := c.Snapshot(ctx, source)
	if err != nil || !ok {
		return "", err // the source is gone: nothing to compare with (its copy is all there is)
	}
	taken := func(s rdstypes.DBSnapshot) *time.Time {
		if s.OriginalSnapshotCreateTime != nil {
			return s.OriginalSnapshotCreateTime
		}
		return s.SnapshotCreateTime
	}
	srcTime, cpTime := taken(src), cp.OriginalSnapshotCreateTime
	if aws.ToString(cp.DbiResourceId) != aws.ToString(src.DbiResourceId) || cpTime == nil || srcTime == nil || !cpTime.Equal(*srcTime) {
		return fmt.Sprintf("snapshot %s exists, but is a copy of another snapshot (of resource %s, taken %s), not of %s (of resource %s, taken %s)",
			aws.ToString(cp.DBSnapshotIdentifier), aws.ToString(cp.DbiResourceId), timeText(cpTime), source, aws.ToString(src.DbiResourceId), timeText(srcTime)), nil
	}
	return "", nil
}

// Check looks at the copy.
func (s *CopySnapshot) Check(ctx context.Context, env *steps.Env) steps.Check {
	rv := resolving(env)
	source, target, key := rv.text(s.Source), rv.text(s.Target), rv.text(s.KMSKey)
	if err := rv.err; err != nil {
		return unknownOr(err, "")
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	snap, ok, err := c.Snapshot(ctx, target)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !ok {
		return steps.ReadyTo(steps.Create, "copy %s of snapshot %s encrypted with %s → create", target, source, key)
	}
	arn, match, err := c.resolveKey(ctx, key, snap.Encrypted, snap.KmsKeyId)
	if err != nil {
		return steps.CannotTell("key %s: %v", key, err)
	}
	if !match {
		return steps.BlockedBy(fmt.Sprintf("snapshot %s exists but is not encrypted with %s (encrypted %v, key %s)", target, arn, aws.ToBool(snap.Encrypted), aws.ToString(snap.KmsKeyId)),
			"delete it or choose another name")
	}
	if why, err := copiedFrom(ctx, c, snap, source); err != nil {
		return steps.CannotTell("%v", err)
	} else if why != "" {
		return steps.BlockedBy(why, fmt.Sprintf("delete that copy if nothing needs it (aws rds delete-db-snapshot --db-snapshot-identifier %s), or choose another target name", target))
	}
	if aws.ToString(snap.Status) == "available" {
		return steps.AlreadyDone("encrypted copy %s of %s is available", target, source)
	}
	return steps.ReadyTo(steps.Create, "encrypted copy %s is being made (%d%%) → wait for it", target, aws.ToInt32(snap.PercentProgress))
}

// Apply copies (unless being copied already) and waits.
func (s *CopySnapshot) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rv := resolving(env)
	source, target, key := rv.text(s.Source), rv.text(s.Target), rv.text(s.KMSKey)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	if snap, ok, err := c.Snapshot(ctx, target); err != nil {
		return nil, err
	} else if ok {
		if why, err := copiedFrom(ctx, c, snap, source); err != nil {
			return nil, err
		} else if why != "" {
			return nil, steps.Failed("delete that copy or choose another target name", "%s: nothing was copied", why)
		}
	} else {
		if _, err := c.RDS.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: &source, TargetDBSnapshotIdentifier: &target,
			KmsKeyId: &key, CopyTags: aws.Bool(true)}); err != nil {
			return nil, withKMSFix(fmt.Errorf("CopyDBSnapshot %s → %s: %w", source, target, err), key, "the encrypted copy "+target, env)
		}
		env.Info("copying snapshot " + source + " to " + target + " encrypted with " + key)
	}
	snap, err := c.WaitSnapshot(ctx, env, target)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("snapshot-arn", aws.ToString(snap.DBSnapshotArn)).Set("snapshot-id", target), nil
}

// Observe reads the outputs of a copy found available.
func (s *CopySnapshot) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return (&Snapshot{Region: s.Region, Snapshot: s.Target}).Observe(ctx, env)
}

// Verify proves the copy is available and encrypted with the key.
func (s *CopySnapshot) Verify(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	target, key := rv.text(s.Target), rv.text(s.KMSKey)
	if err := rv.err; err != nil {
		return err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return err
	}
	snap, ok, err := c.Snapshot(ctx, target)
	if err != nil {
		return err
	}
	if !ok || aws.ToString(snap.Status) != "available" {
		return &steps.VerifyError{What: "snapshot " + target, Expected: "available", Found: "missing or " + aws.ToString(snap.Status)}
	}
	arn, match, err := c.resolveKey(ctx, key, snap.Encrypted, snap.KmsKeyId)
	if err != nil {
		return err
	}
	if !match {
		return &steps.VerifyError{What: "encryption of snapshot " + target, Expected: "key " + arn, Found: aws.ToString(snap.KmsKeyId)}
	}
	return nil
}

// Rollback deletes the copy (the source snapshot stays).
func (s *CopySnapshot) Rollback(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	target := rv.text(s.Target)
	if err := rv.err; err != nil {
		return err
	}
	c, err := s.clients(ctx, env)
	if err != nil {
		return err
	}
	if _, ok, err := c.Snapshot(ctx, target); err != nil || !ok {
		return err
	}
	if _, err := c.WaitSnapshot(ctx, env, target); err != nil {
		return err
	}
	return c.DeleteSnapshot(ctx, env, target)
}
