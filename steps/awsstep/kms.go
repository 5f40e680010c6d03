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

// registerKMSKey adds the `kms-key` kind.
func registerKMSKey(r *steps.Registry) {
	r.Register("kms-key", "read a KMS key (id, ARN, alias): exists and enabled; outputs its ARN", func() steps.Step { return &KMSKey{} })
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
