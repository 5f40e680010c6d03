package awsstep

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Rename is the `rds-rename` kind: ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately,
// then wait until the new name answers AND is available (the SDK's available-waiter can return
// while the instance is still renaming, and the old name stops answering before the new one
// starts). Encrypted ("true"/"false", optional) guards that the right instance is renamed.
// Rollback renames it back.
type Rename struct {
	Region    `yaml:",inline"`
	From      ref.Template `yaml:"from"`
	To        ref.Template `yaml:"to"`
	Encrypted ref.Template `yaml:"encrypted"`
}

// registerRename adds the `rds-rename` kind.
func registerRename(r *steps.Registry) {
	r.Register("rds-rename", "rename an instance and wait for the new name to answer and be available", func() steps.Step { return &Rename{} })
}

// OutputNames declares the outputs.
func (r *Rename) OutputNames() []string { return []string{"arn", "endpoint", "resource-id"} }

// Validate checks the parameters.
func (r *Rename) Validate() error {
	if r.From.IsZero() || r.To.IsZero() {
		return fmt.Errorf("give `from:` and `to:`")
	}
	return nil
}

// Describe lists the calls.
func (r *Rename) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		call("rds ModifyDBInstance", "DBInstanceIdentifier", env.Describe(r.From), "NewDBInstanceIdentifier", env.Describe(r.To), "ApplyImmediately", "true"),
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + env.Describe(r.To) + " until it answers under the new name and is available (twice in a row)"},
	}
}

// where says which of the two names answer, waiting out the window in which neither does.
func (r *Rename) where(ctx context.Context, c *Clients, from, to string) (fromOK, toOK bool, err error) {
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, fromOK, err = c.Instance(ctx, from)
		if err != nil {
			return
		}
		_, toOK, err = c.Instance(ctx, to)
		if err != nil || fromOK || toOK || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return false, false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (r *Rename) guard(ctx context.Context, c *Clients, env *steps.Env, id string) error {
	want, err := env.Text(r.Encrypted)
	if err != nil || want == "" {
		return err
	}
	inst, ok, err := c.Instance(ctx, id)
	if err != nil || !ok {
		return err
	}
	encrypted, err := ref.ParseBool(want)
	if err != nil {
		return fmt.Errorf("encrypted: %w", err)
	}
	if aws.ToBool(inst.StorageEncrypted) != encrypted {
		return fmt.Errorf("instance %s has StorageEncrypted=%v, but this step renames the one with %s: refusing", id, aws.ToBool(inst.StorageEncrypted), want)
	}
	return nil
}

// Check says which name the instance answers to.
func (r *Rename) Check(ctx context.Context, env *steps.Env) steps.Check {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return unknownOr(err, "")
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	fromOK, toOK, err := r.where(ctx, c, from, to)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	switch {
	case fromOK && toOK:
		return steps.BlockedBy(fmt.Sprintf("both %s and %s exist", from, to), "the new name is taken: rename or delete "+to+" first")
	case fromOK:
		if err := r.guard(ctx, c, env, from); err != nil {
			return steps.BlockedBy(err.Error(), "check which instance is which: aws rds describe-db-instances")
		}
		return steps.ReadyTo(steps.Update, "rename %s → %s", from, to)
	case toOK:
		if err := r.guard(ctx, c, env, to); err != nil {
			return steps.BlockedBy(err.Error(), "check which instance is which: aws rds describe-db-instances")
		}
		inst, _, err := c.Instance(ctx, to)
		if err != nil {
			return steps.CannotTell("%v", err)
		}
		if st := aws.ToString(inst.DBInstanceStatus); st != "available" {
			return steps.ReadyTo(steps.Update, "%s answers but is %s → wait for it", to, st)
		}
		return steps.AlreadyDone("%s answers and is available; %s is gone", to, from)
	}
	return steps.CannotTell("neither %s nor %s answers", from, to)
}

func (r *Rename) rename(ctx context.Context, env *steps.Env, c *Clients, from, to string) (steps.Outputs, error) {
	fromOK, _, err := r.where(ctx, c, from, to)
	if err != nil {
		return nil, err
	}
	if fromOK {
		if _, err := c.WaitInstance(ctx, env, from); err != nil {
			return nil, err
		}
		if _, err := c.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: &from, NewDBInstanceIdentifier: &to, ApplyImmediately: aws.Bool(true)}); err != nil {
			return nil, fmt.Errorf("rename %s → %s: %w", from, to, err)
		}
		env.Info("renaming " + from + " → " + to)
	}
	inst, err := c.WaitInstance(ctx, env, to)
	if err != nil {
		return nil, err
	}
	return instanceOutputs(inst), nil
}

// Apply renames (unless done already) and waits for the new name.
func (r *Rename) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := r.guard(ctx, c, env, from); err != nil {
		return nil, err
	}
	return r.rename(ctx, env, c, from, to)
}

// Observe reads the renamed instance's outputs.
func (r *Rename) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return observeInstance(ctx, env, r.Region, r.To)
}

// Verify proves the new name answers, is available, and the old one is gone.
func (r *Rename) Verify(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return err
	}
	inst, ok, err := c.Instance(ctx, to)
	if err != nil {
		return err
	}
	if !ok || aws.ToString(inst.DBInstanceStatus) != "available" {
		return &steps.VerifyError{What: "instance " + to, Expected: "available", Found: statusOr(aws.ToString(inst.DBInstanceStatus), ok)}
	}
	if _, ok, err := c.Instance(ctx, from); err != nil {
		return err
	} else if ok {
		return &steps.VerifyError{What: "old name " + from, Expected: "gone", Found: "still answering"}
	}
	return r.guard(ctx, c, env, to)
}

// Rollback renames back.
func (r *Rename) Rollback(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return err
	}
	renamed, original, err := r.where(ctx, c, to, from)
	if err != nil {
		return err
	}
	if original || !renamed {
		return nil // the old name already answers (never renamed, or renamed back)
	}
	_, err = r.rename(ctx, env, c, to, from)
	return err
}
