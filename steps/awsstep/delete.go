package awsstep

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Delete is the `rds-delete` kind: DeleteDBInstance with a final snapshot, then wait until the
// instance is gone and the final snapshot is available. Guards, judged from AWS: RequireSnapshot
// (the insurance snapshot) must exist and be available; Encrypted ("true"/"false") must match the
// instance, so the wrong one is never deleted; deletion protection blocks with the fix. It cannot be
// rolled back: the runbook's cut-back restores from the snapshot.
type Delete struct {
	Region          `yaml:",inline"`
	Instance        ref.Template `yaml:"instance"`
	FinalSnapshot   ref.Template `yaml:"final-snapshot"`
	RequireSnapshot ref.Template `yaml:"require-snapshot"`
	Encrypted       ref.Template `yaml:"encrypted"`
	// FinalSnapshotNote is what the final snapshot holds that its restore must know (rds-encrypt:
	// the application roles are quiesced in it, and the statements that let them in): said when the
	// snapshot is available, and kept as the output final-snapshot-note.
	FinalSnapshotNote ref.Template `yaml:"final-snapshot-note"`
}

// registerDelete adds the `rds-delete` kind.
func registerDelete(r *steps.Registry) {
	r.Register("rds-delete", "DeleteDBInstance with a final snapshot, guarded", func() steps.Step { return &Delete{} })
}

// OutputNames declares the outputs.
func (d *Delete) OutputNames() []string { return []string{"final-snapshot-arn", "final-snapshot-note"} }

// Validate checks the parameters.
func (d *Delete) Validate() error {
	if d.Instance.IsZero() || d.FinalSnapshot.IsZero() || d.Encrypted.IsZero() {
		return fmt.Errorf("give `instance:`, `final-snapshot:` and `encrypted:` (what the instance to delete must be)")
	}
	return nil
}

// Describe lists the calls.
func (d *Delete) Describe(env *steps.Env) []steps.Action {
	acts := []steps.Action{}
	if !d.RequireSnapshot.IsZero() {
		acts = append(acts, call("rds DescribeDBSnapshots", "DBSnapshotIdentifier", env.Describe(d.RequireSnapshot)+"  (must be available first)"))
	}
	return append(acts,
		call("rds DeleteDBInstance", "DBInstanceIdentifier", env.Describe(d.Instance), "FinalDBSnapshotIdentifier", env.Describe(d.FinalSnapshot), "SkipFinalSnapshot", "false"),
		steps.Action{Kind: steps.ActWait, Target: "rds", Text: "poll until " + env.Describe(d.Instance) + " is gone and snapshot " + env.Describe(d.FinalSnapshot) + " is available"})
}

// Check looks at the instance and the guards.
func (d *Delete) Check(ctx context.Context, env *steps.Env) steps.Check {
	rv := resolving(env)
	instance, finalSnapshot, insurance, encrypted := rv.text(d.Instance), rv.text(d.FinalSnapshot), rv.text(d.RequireSnapshot), rv.flag(d.Encrypted)
	if err := rv.err; err != nil {
		return unknownOr(err, "")
	}
	c, err := d.clients(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	inst, ok, err := c.Instance(ctx, instance)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !ok {
		return steps.AlreadyDone("instance %s does not exist", instance)
	}
	if aws.ToBool(inst.StorageEncrypted) != encrypted {
		return steps.BlockedBy(fmt.Sprintf("instance %s has StorageEncrypted=%v; this step deletes only the one with StorageEncrypted=%v", instance, aws.ToBool(inst.StorageEncrypted), encrypted),
			"check which instance is which (aws rds describe-db-instances); nothing was deleted")
	}
	if aws.ToString(inst.DBInstanceStatus) == "deleting" {
		return steps.ReadyTo(steps.Delete, "instance %s is being deleted → wait", instance)
	}
	if aws.ToBool(inst.DeletionProtection) {
		return steps.BlockedBy("instance "+instance+" has deletion protection on",
			"aws rds modify-db-instance --db-instance-identifier "+instance+" --no-deletion-protection --apply-immediately, then retry")
	}
	if insurance != "" {
		snap, ok, err := c.Snapshot(ctx, insurance)
		if err != nil {
			return steps.CannotTell("%v", err)
		}
		if !ok || aws.ToString(snap.Status) != "available" {
			return steps.BlockedBy("insurance snapshot "+insurance+" is not available", "the snapshot step must have finished and verified before anything is deleted")
		}
	}
	if _, taken, err := c.Snapshot(ctx, finalSnapshot); err != nil {
		return steps.CannotTell("%v", err)
	} else if taken {
		return steps.BlockedBy("final snapshot name "+finalSnapshot+" is taken", "delete or rename that snapshot, or choose another final-snapshot name")
	}
	return steps.ReadyTo(steps.Delete, "delete %s, keeping final snapshot %s", instance, finalSnapshot)
}

// Apply deletes and waits.
func (d *Delete) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rv := resolving(env)
	instance, finalSnapshot := rv.text(d.Instance), rv.text(d.FinalSnapshot)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := d.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	inst, ok, err := c.Instance(ctx, instance)
	if err != nil {
		return nil, err
	}
	if ok && aws.ToString(inst.DBInstanceStatus) != "deleting" {
		if _, err := c.RDS.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{DBInstanceIdentifier: &instance, FinalDBSnapshotIdentifier: &finalSnapshot}); err != nil {
			return nil, fmt.Errorf("DeleteDBInstance %s: %w", instance, err)
		}
		env.Info("deleting " + instance + " with final snapshot " + finalSnapshot)
	}
	if err := c.WaitInstanceGone(ctx, env, instance); err != nil {
		return nil, err
	}
	snap, err := c.WaitSnapshot(ctx, env, finalSnapshot)
	if err != nil {
		return nil, err
	}
	note, err := env.OptionalText(d.FinalSnapshotNote)
	if err != nil && !errors.Is(err, ref.ErrUnknown) { // unknown: a run journaled before the note
		return nil, err
	}
	if note != "" {
		env.Info("final snapshot " + finalSnapshot + ": " + note)
	}
	return steps.Outputs{}.Set("final-snapshot-arn", aws.ToString(snap.DBSnapshotArn)).Set("final-snapshot-note", note), nil
}

// Verify proves the instance is gone.
func (d *Delete) Verify(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	instance := rv.text(d.Instance)
	if err := rv.err; err != nil {
		return err
	}
	c, err := d.clients(ctx, env)
	if err != nil {
		return err
	}
	if _, ok, err := c.Instance(ctx, instance); err != nil {
		return err
	} else if ok {
		return &steps.VerifyError{What: "instance " + instance, Expected: "deleted", Found: "still there"}
	}
	return nil
}

// Rollback cannot bring a deleted instance back by itself.
func (d *Delete) Rollback(ctx context.Context, env *steps.Env) error {
	return steps.NotReversible("a deleted instance comes back only by restoring its snapshot (%s, or the final snapshot %s): the runbook's cut-back does that",
		env.Describe(d.RequireSnapshot), env.Describe(d.FinalSnapshot))
}

// DeleteRebuild is the `rds-delete-rebuild` kind, for cut-backs: delete the half-made encrypted
// instance under Instance — only if it is encrypted and carries this run's tag (cairn:run-id, put
// there by rds-restore or rds-create-instance), so an instance this run did not make is never
// touched: the unencrypted source is left alone (done), and an encrypted instance of another run or
// made by hand is blocked, with the fix, never deleted. Snapshot (the rebuild's insurance snapshot)
// is named in the plan only. Without a final snapshot: it holds nothing the source and its snapshot
// do not.
//
// WayBack, when given, is the instance the cut-back goes back to (renamed back after this delete):
// the delete is blocked, with the fix, unless it exists and PostgreSQL answers on it — the way
// back is proven before anything is destroyed. WayBackSnapshot likewise must exist and be
// available (the snapshot the cut-back restores from). FinalSnapshot, when given, is kept of the
// instance as it is deleted (for an instance that may have served the application: its writes
// after the swap stay in that snapshot), output as final-snapshot; a name already taken blocks.
type DeleteRebuild struct {
	Region          `yaml:",inline"`
	Instance        ref.Template `yaml:"instance"`
	Snapshot        ref.Template `yaml:"snapshot"`
	WayBack         ref.Template `yaml:"way-back"`
	WayBackSnapshot ref.Template `yaml:"way-back-snapshot"`
	FinalSnapshot   ref.Template `yaml:"final-snapshot"`
}

// OutputNames declares the outputs.
func (d *DeleteRebuild) OutputNames() []string { return []string{"final-snapshot"} }

// registerDeleteRebuild adds the `rds-delete-rebuild` kind.
func registerDeleteRebuild(r *steps.Registry) {
	r.Register("rds-delete-rebuild", "cut-back: delete the half-made encrypted instance of this rebuild", func() steps.Step { return &DeleteRebuild{} })
}

// Validate checks the parameters.
func (d *DeleteRebuild) Validate() error {
	if d.Instance.IsZero() || d.Snapshot.IsZero() {
		return fmt.Errorf("give `instance:` and `snapshot:`")
	}
	return nil
}

// Describe lists the calls.
func (d *DeleteRebuild) Describe(env *steps.Env) []steps.Action {
	var acts []steps.Action
	if !d.WayBack.IsZero() {
		acts = append(acts, call("rds DescribeDBInstances", "DBInstanceIdentifier", env.Describe(d.WayBack)+"  (the way back: must exist and answer before anything is deleted)"))
	}
	if !d.WayBackSnapshot.IsZero() {
		acts = append(acts, call("rds DescribeDBSnapshots", "DBSnapshotIdentifier", env.Describe(d.WayBackSnapshot)+"  (the way back: must be available before anything is deleted)"))
	}
	if !d.FinalSnapshot.IsZero() {
		return append(acts, call("rds DeleteDBInstance", "DBInstanceIdentifier", env.Describe(d.Instance), "FinalDBSnapshotIdentifier", env.Describe(d.FinalSnapshot),
			"only if", "encrypted and tagged "+TagRunID+"="+env.DescribeRunID()+" (made by this run)"),
			steps.Action{Kind: steps.ActWait, Target: "rds", Text: "poll until " + env.Describe(d.Instance) + " is gone and snapshot " + env.Describe(d.FinalSnapshot) + " is available"})
	}
	return append(acts, call("rds DeleteDBInstance", "DBInstanceIdentifier", env.Describe(d.Instance), "SkipFinalSnapshot", "true",
		"only if", "encrypted and tagged "+TagRunID+"="+env.DescribeRunID()+" (made by this run, after snapshot "+env.Describe(d.Snapshot)+")"))
}

// rebuildFinding is what DeleteRebuild finds under its name.
type rebuildFinding int

const (
	rebuildNone    rebuildFinding = iota // nothing of this run's to delete (no instance, or the unencrypted source)
	rebuildOurs                          // an encrypted instance this run made: to delete
	rebuildForeign                       // an encrypted instance this run did not make: never touched
)

func (d *DeleteRebuild) ours(ctx context.Context, env *steps.Env) (*Clients, string, rebuildFinding, string, error) {
	rv := resolving(env)
	instance := rv.text(d.Instance)
	if err := rv.err; err != nil {
		return nil, "", rebuildNone, "", err
	}
	c, err := d.clients(ctx, env)
	if err != nil {
		return nil, "", rebuildNone, "", err
	}
	inst, ok, err := c.Instance(ctx, instance)
	if err != nil || !ok {
		return c, instance, rebuildNone, "instance " + instance + " does not exist", err
	}
	if !aws.ToBool(inst.StorageEncrypted) {
		return c, instance, rebuildNone, "instance " + instance + " is unencrypted: not a rebuild, left alone", nil
	}
	if ours, why := instanceIsOurs(env, inst); !ours {
		return c, instance, rebuildForeign, why, nil
	}
	return c, instance, rebuildOurs, "", nil
}

// Check says whether there is a half-made instance of this rebuild.
func (d *DeleteRebuild) Check(ctx context.Context, env *steps.Env) steps.Check {
	c, id, found, why, err := d.ours(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	switch found {
	case rebuildOurs:
		if why, fix, err := d.noWayBack(ctx, c, env, id); err != nil {
			return steps.CannotTell("%v", err)
		} else if why != "" {
			return steps.BlockedBy(why, fix)
		}
		final, err := env.OptionalText(d.FinalSnapshot)
		if err != nil {
			return unknownOr(err, "")
		}
		if final != "" {
			if _, taken, err := c.Snapshot(ctx, final); err != nil {
				return steps.CannotTell("%v", err)
			} else if taken {
				if inst, ok, err := c.Instance(ctx, id); err == nil && ok && aws.ToString(inst.DBInstanceStatus) == "deleting" {
					return steps.ReadyTo(steps.Delete, "instance %s is being deleted, keeping final snapshot %s → wait", id, final)
				}
				return steps.BlockedBy("final snapshot name "+final+" is taken, so "+id+" cannot be deleted keeping its data", "aws rds delete-db-snapshot --db-snapshot-identifier "+final+" if nothing needs it (or copy it aside first: aws rds copy-db-snapshot), then retry; nothing was deleted")
			}
			return steps.ReadyTo(steps.Delete, "delete the encrypted instance %s this run made, keeping final snapshot %s", id, final)
		}
		return steps.ReadyTo(steps.Delete, "delete the encrypted instance %s this run made", id)
	case rebuildForeign:
		return steps.BlockedBy("an encrypted instance is under "+id+" that this run did not make: "+why, fixForeignInstance(id))
	}
	return steps.AlreadyDone("%s", why)
}

// Apply deletes it (only this run's).
func (d *DeleteRebuild) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	c, id, found, why, err := d.ours(ctx, env)
	if err != nil {
		return nil, err
	}
	switch found {
	case rebuildOurs:
		if why, fix, err := d.noWayBack(ctx, c, env, id); err != nil {
			return nil, err
		} else if why != "" {
			return nil, steps.Failed(fix, "%s: nothing was deleted", why)
		}
		final, err := env.OptionalText(d.FinalSnapshot)
		if err != nil {
			return nil, err
		}
		if err := deleteMadeKeeping(ctx, env, c, id, "*", final); err != nil {
			return nil, err
		}
		if final == "" {
			return nil, nil
		}
		if _, err := c.WaitSnapshot(ctx, env, final); err != nil {
			return nil, err
		}
		return steps.Outputs{}.Set("final-snapshot", final), nil
	case rebuildForeign:
		return nil, steps.Failed(fixForeignInstance(id), "%s: nothing was deleted", why)
	}
	return nil, nil
}

// noWayBack is why the instance id must not be deleted — the way back (WayBack, WayBackSnapshot)
// is not there — and the fix; "" when the way back is proven.
func (d *DeleteRebuild) noWayBack(ctx context.Context, c *Clients, env *steps.Env, id string) (why, fix string, err error) {
	rv := resolving(env)
	back, backSnap := rv.text(d.WayBack), rv.text(d.WayBackSnapshot)
	if err := rv.err; err != nil {
		return "", "", err
	}
	keep := "nothing was deleted: " + id + " stays as it is, serving; "
	if back != "" {
		inst, ok, err := c.Instance(ctx, back)
		if err != nil {
			return "", "", err
		}
		if !ok {
			return "the way back is gone: instance " + back + " (what the cut-back would give " + id + "'s name back to) does not exist, so deleting " + id + " would leave nothing serving",
				keep + "if " + back + " was deleted on purpose (the run succeeded), keep " + id + "; to go back anyway, restore " + back + " from its final snapshot (aws rds describe-db-snapshots --db-instance-identifier " + back + "; aws rds restore-db-instance-from-db-snapshot --db-instance-identifier " + back + " --db-snapshot-identifier <that snapshot>), wait until it is available, then `cairn rollback " + env.DescribeRunID() + "` again", nil
		}
		if err := answers(ctx, inst, back, ""); err != nil {
			return "the way back does not answer: instance " + back + " is " + aws.ToString(inst.DBInstanceStatus) + " and PostgreSQL does not answer on it (" + err.Error() + ")",
				keep + "wait until " + back + " is available and answers (aws rds describe-db-instances --db-instance-identifier " + back + "), then `cairn rollback " + env.DescribeRunID() + "` again", nil
		}
	}
	if backSnap != "" {
		snap, ok, err := c.Snapshot(ctx, backSnap)
		if err != nil {
			return "", "", err
		}
		if !ok || aws.ToString(snap.Status) != "available" {
			return "the way back is not there: snapshot " + backSnap + " (what the cut-back restores from) is not available",
				keep + "without that snapshot nothing could be restored in its place; keep " + id, nil
		}
	}
	return "", "", nil
}

// Verify proves it is gone (or never was this rebuild's).
func (d *DeleteRebuild) Verify(ctx context.Context, env *steps.Env) error {
	_, id, found, _, err := d.ours(ctx, env)
	if err != nil {
		return err
	}
	if found == rebuildOurs {
		return &steps.VerifyError{What: "instance " + id, Expected: "deleted", Found: "still there"}
	}
	return nil
}

// Rollback cannot recreate it.
func (d *DeleteRebuild) Rollback(ctx context.Context, env *steps.Env) error {
	return steps.NotReversible("a deleted half-made instance is not recreated; run the rebuild again")
}
