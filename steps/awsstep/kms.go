package awsstep

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// KMSKey is the `kms-key` kind: it reads (never changes) a KMS key given by id, ARN or alias and
// refuses when it is missing or disabled. Output: the key's ARN.
type KMSKey struct {
	Region `yaml:",inline"`
	Key    ref.Template `yaml:"key"`
}

// OutputNames declares the outputs.
func (k *KMSKey) OutputNames() []string { return []string{"arn"} }

// Validate checks the parameters.
func (k *KMSKey) Validate() error {
	if k.Key.IsZero() {
		return fmt.Errorf("give `key:` (id, ARN or alias/…)")
	}
	return nil
}

// Describe lists the call.
func (k *KMSKey) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{call("kms DescribeKey", "KeyId", env.Describe(k.Key))}
}

func (k *KMSKey) look(ctx context.Context, env *steps.Env) (string, error) {
	key, err := env.Text(k.Key)
	if err != nil {
		return "", err
	}
	c, err := k.clients(ctx, env)
	if err != nil {
		return "", err
	}
	arn, enabled, err := c.KeyARN(ctx, key)
	if IsNotFound(err) {
		return "", fmt.Errorf("KMS key %s does not exist", key)
	}
	if err != nil {
		return "", fmt.Errorf("KMS key %s: %w", key, err)
	}
	if !enabled {
		return arn, fmt.Errorf("KMS key %s (%s) is disabled", key, arn)
	}
	return arn, nil
}

// Check reads the key.
func (k *KMSKey) Check(ctx context.Context, env *steps.Env) steps.Check {
	arn, err := k.look(ctx, env)
	if err != nil {
		return unknownOr(err, "give an existing, enabled key (aws kms list-aliases; aws kms enable-key --key-id …)")
	}
	return steps.ReadyTo(steps.Read, "key %s is enabled", arn)
}

// Apply outputs the ARN.
func (k *KMSKey) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	arn, err := k.look(ctx, env)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("arn", arn), nil
}

// Verify has nothing to prove.
func (k *KMSKey) Verify(ctx context.Context, env *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (k *KMSKey) Rollback(ctx context.Context, env *steps.Env) error { return nil }

// Register adds the AWS kinds.
func Register(r *steps.Registry) {
	r.Register("rds-preflight", "read an RDS PostgreSQL instance and a KMS key; refuse a rebuild that cannot start, with the fixes", func() steps.Step { return &Preflight{} })
	r.Register("kms-key", "read a KMS key (id, ARN, alias): exists and enabled; outputs its ARN", func() steps.Step { return &KMSKey{} })
	r.Register("rds-snapshot", "CreateDBSnapshot and wait, with PercentProgress", func() steps.Step { return &Snapshot{} })
	r.Register("rds-copy-snapshot", "CopyDBSnapshot with a KMS key and wait", func() steps.Step { return &CopySnapshot{} })
	r.Register("rds-restore", "RestoreDBInstanceFromDBSnapshot copying the source's settings, and wait", func() steps.Step { return &Restore{} })
	r.Register("rds-create-instance", "CreateDBInstance encrypted with the source's settings; master password from a secret", func() steps.Step { return &Create{} })
	r.Register("rds-rename", "rename an instance and wait for the new name to answer and be available", func() steps.Step { return &Rename{} })
	r.Register("rds-delete", "DeleteDBInstance with a final snapshot, guarded", func() steps.Step { return &Delete{} })
	r.Register("rds-delete-rebuild", "cut-back: delete the half-made encrypted instance of this rebuild", func() steps.Step { return &DeleteRebuild{} })
}
