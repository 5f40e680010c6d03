package awsstep

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// WindowReady is the `rds-window-ready` kind: it reads (never changes) what a maintenance window
// depends on and refuses, with the fix, when it no longer holds — the KMS key enabled (KeyState
// Enabled), and, when given, the new instance standing under its identifier, available, made by
// this run and the very one it made (its DbiResourceId as recorded). A runbook names it in its
// window's `ready:`, so the runner proves it again right before the window opens: the preparation
// may be days old. Nothing to roll back.
type WindowReady struct {
	Region   `yaml:",inline"`
	KMSKey   ref.Template `yaml:"kms-key"`
	Instance ref.Template `yaml:"instance"`
	// ResourceID is the instance's DbiResourceId as the step that made it recorded it.
	ResourceID ref.Template `yaml:"resource-id"`
}

// registerWindowReady adds the `rds-window-ready` kind.
func registerWindowReady(r *steps.Registry) {
	r.Register("rds-window-ready", "read the KMS key (enabled) and the new instance (this run's, available) a window depends on; refuse with the fix when either no longer holds", func() steps.Step { return &WindowReady{} })
}

// Validate checks the parameters.
func (w *WindowReady) Validate() error {
	if w.KMSKey.IsZero() && w.Instance.IsZero() {
		return fmt.Errorf("give `kms-key:` or `instance:` (or both)")
	}
	return nil
}

// Describe lists the calls.
func (w *WindowReady) Describe(env *steps.Env) []steps.Action {
	var acts []steps.Action
	if !w.KMSKey.IsZero() {
		acts = append(acts, call("kms DescribeKey", "KeyId", env.Describe(w.KMSKey)+"  (KeyState Enabled)"))
	}
	if !w.Instance.IsZero() {
		acts = append(acts, call("rds DescribeDBInstances", "DBInstanceIdentifier", env.Describe(w.Instance)+"  (available, this run's, DbiResourceId "+env.Describe(w.ResourceID)+")"))
	}
	return acts
}

// findings lists what no longer holds.
func (w *WindowReady) findings(ctx context.Context, env *steps.Env) ([]diag.Diagnostic, error) {
	c, err := w.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	rv := resolving(env)
	key, id := rv.text(w.KMSKey), rv.text(w.Instance)
	if rv.err != nil {
		return nil, rv.err
	}
	resource, err := env.OptionalText(w.ResourceID)
	if err != nil {
		return nil, err
	}
	var out []diag.Diagnostic
	if key != "" {
		f, err := keyFinding(ctx, c, key)
		if err != nil {
			return nil, err
		}
		out = append(out, f...)
	}
	if id == "" {
		return out, nil
	}
	inst, ok, err := c.Instance(ctx, id)
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return append(out, finding(fmt.Sprintf("instance %s, which this run made (resource %s), no longer exists under that identifier: renamed or deleted since", id, resource),
			"if it was renamed, give it its identifier back (aws rds modify-db-instance --db-instance-identifier <its name now> --new-db-instance-identifier "+id+" --apply-immediately; aws rds describe-db-instances --query \"DBInstances[?DbiResourceId=='"+resource+"'].DBInstanceIdentifier\" finds it); if it was deleted, `cairn rollback "+env.DescribeRunID()+"` and run again")), nil
	}
	if ours, why := instanceIsOurs(env, inst); !ours {
		return append(out, finding(why, fixForeignInstance(id)+" — this run's instance is to be given its identifier back, or `cairn rollback "+env.DescribeRunID()+"`")), nil
	}
	if got := aws.ToString(inst.DbiResourceId); resource != "" && got != resource {
		return append(out, finding(fmt.Sprintf("instance %s is resource %s, not %s, the one this run made", id, got, resource),
			"give this run's instance (resource "+resource+") its identifier "+id+" back, or `cairn rollback "+env.DescribeRunID()+"`")), nil
	}
	if s := aws.ToString(inst.DBInstanceStatus); s != "available" {
		out = append(out, finding(fmt.Sprintf("instance %s is %s, not available", id, s),
			"wait until `aws rds describe-db-instances --db-instance-identifier "+id+"` says available, then `cairn resume "+env.DescribeRunID()+"`"))
	}
	return out, nil
}

// keyFinding reads the key's state: anything but Enabled is a finding with its fix.
func keyFinding(ctx context.Context, c *Clients, key string) ([]diag.Diagnostic, error) {
	out, err := c.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: &key})
	switch {
	case IsNotFound(err):
		return []diag.Diagnostic{finding(fmt.Sprintf("KMS key %s no longer exists", key), "give an existing key (aws kms list-aliases), `cairn rollback` this run and run again")}, nil
	case err != nil:
		return nil, err
	}
	if st := out.KeyMetadata.KeyState; st != kmstypes.KeyStateEnabled {
		arn := aws.ToString(out.KeyMetadata.Arn)
		return []diag.Diagnostic{finding(fmt.Sprintf("KMS key %s is %s, not Enabled: nothing can be encrypted with it", arn, st), kmsKeyFix(arn, st))}, nil
	}
	return nil, nil
}

// kmsKeyFix is what makes a key usable again, by its state.
func kmsKeyFix(arn string, st kmstypes.KeyState) string {
	if st == kmstypes.KeyStatePendingDeletion {
		return "cancel its deletion and enable it: aws kms cancel-key-deletion --key-id " + arn + " && aws kms enable-key --key-id " + arn
	}
	return "enable it: aws kms enable-key --key-id " + arn
}

// Check reads the key and the instance.
func (w *WindowReady) Check(ctx context.Context, env *steps.Env) steps.Check {
	fs, err := w.findings(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	if len(fs) > 0 {
		return blockedBy(fs)
	}
	return steps.ReadyTo(steps.Read, "%s", w.holds(env))
}

// holds says what was proved.
func (w *WindowReady) holds(env *steps.Env) string {
	s := ""
	if !w.KMSKey.IsZero() {
		s = "KMS key " + env.Describe(w.KMSKey) + " enabled"
	}
	if !w.Instance.IsZero() {
		if s != "" {
			s += "; "
		}
		s += "instance " + env.Describe(w.Instance) + " is this run's and available"
	}
	return s
}

// Apply proves the same as Check, failing with the fixes.
func (w *WindowReady) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	fs, err := w.findings(ctx, env)
	if err != nil {
		return nil, err
	}
	if len(fs) > 0 {
		return nil, blockedBy(fs).Err()
	}
	env.Info(w.holds(env))
	return nil, nil
}

// Verify has nothing to prove: it changed nothing.
func (w *WindowReady) Verify(ctx context.Context, env *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (w *WindowReady) Rollback(ctx context.Context, env *steps.Env) error { return nil }
