package awsstep

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Preflight is the `rds-preflight` kind: it reads (never changes) the source instance and the KMS
// key and refuses, with every problem and its fix listed together, when the rebuild cannot start:
// the instance is missing, not available, already encrypted, not PostgreSQL, deletion-protected
// (when it is to be deleted), the key is missing or disabled, or an identifier cairn will create is
// taken, or a secret the run will read (credentials-secret, passwords-secret) is missing, unreadable
// or does not hold what the run needs. Its outputs are the source's settings (JSON), the key's ARN and the source's DbiResourceId
// (resource-id: what the data steps bind their dumps to, stable across renames).
type Preflight struct {
	Region   `yaml:",inline"`
	Instance ref.Template `yaml:"instance"`
	KMSKey   ref.Template `yaml:"kms-key"`
	// Free lists instance identifiers that must not exist yet (the target, the renamed source).
	Free []ref.Template `yaml:"free"`
	// FreeSnapshots lists snapshot identifiers that must not exist yet.
	FreeSnapshots []ref.Template `yaml:"free-snapshots"`
	// WillDelete says the source will be deleted by this run (deletion protection must be off).
	WillDelete ref.Template `yaml:"will-delete"`
	// KeepIdentifier and Target decide the identifier the encrypted instance is built under (the
	// build-id output): the source's own when kept (it is deleted first), else Target.
	KeepIdentifier ref.Template `yaml:"keep-identifier"`
	Target         ref.Template `yaml:"target"`
	// CredentialsSecret and PasswordsSecret are the secrets the run reads later (the master's
	// credentials; the roles' passwords): each given one is read here, before anything changes.
	CredentialsSecret ref.Template `yaml:"credentials-secret"`
	PasswordsSecret   ref.Template `yaml:"passwords-secret"`
}

// registerPreflight adds the `rds-preflight` kind.
func registerPreflight(r *steps.Registry) {
	r.Register("rds-preflight", "read an RDS PostgreSQL instance and a KMS key; refuse a rebuild that cannot start, with the fixes", func() steps.Step { return &Preflight{} })
}

// OutputNames declares the outputs.
func (p *Preflight) OutputNames() []string {
	return []string{"settings", "key-arn", "master-username", "engine-version", "summary", "build-id", "resource-id"}
}

// Validate checks the parameters.
func (p *Preflight) Validate() error {
	if p.Instance.IsZero() || p.KMSKey.IsZero() {
		return fmt.Errorf("give `instance:` and `kms-key:`")
	}
	return nil
}

// Describe lists the calls.
func (p *Preflight) Describe(env *steps.Env) []steps.Action {
	acts := []steps.Action{
		call("rds DescribeDBInstances", "DBInstanceIdentifier", env.Describe(p.Instance)),
		call("kms DescribeKey", "KeyId", env.Describe(p.KMSKey)),
	}
	for _, f := range p.Free {
		acts = append(acts, call("rds DescribeDBInstances", "DBInstanceIdentifier", env.Describe(f)+"  (must not exist)"))
	}
	for _, f := range p.FreeSnapshots {
		acts = append(acts, call("rds DescribeDBSnapshots", "DBSnapshotIdentifier", env.Describe(f)+"  (must not exist)"))
	}
	if s := env.Describe(p.CredentialsSecret); s != "" {
		acts = append(acts, call("secretsmanager GetSecretValue", "SecretId", s+"  (credentials-secret: JSON with username and password)"))
	}
	if s := env.Describe(p.PasswordsSecret); s != "" {
		acts = append(acts, call("secretsmanager GetSecretValue", "SecretId", s+"  (passwords-secret: JSON object of role → password)"))
	}
	return acts
}

// finding is one thing that stops the rebuild, as the one diagnostic type: what is wrong and its fix.
func finding(problem, fix string) diag.Diagnostic {
	return diag.Diagnostic{Summary: problem, Next: fix}
}

// blockedBy is the check for findings: every problem, and every fix.
func blockedBy(fs []diag.Diagnostic) steps.Check {
	var reasons, fixes []string
	for _, f := range fs {
		reasons = append(reasons, f.Summary)
		fixes = append(fixes, f.Next)
	}
	return steps.BlockedBy(strings.Join(reasons, "; "), strings.Join(fixes, "; "))
}

// judge lists what stops a rebuild of inst. It is pure, so every rule is tested without AWS.
func judge(inst rdstypes.DBInstance, willDelete bool) []diag.Diagnostic {
	id := aws.ToString(inst.DBInstanceIdentifier)
	var out []diag.Diagnostic
	if e := aws.ToString(inst.Engine); e != "postgres" {
		out = append(out, finding(fmt.Sprintf("instance %s runs engine %q, not postgres", id, e),
			"this runbook rebuilds RDS for PostgreSQL instances only; Aurora and other engines have their own encryption paths"))
	}
	if s := aws.ToString(inst.DBInstanceStatus); s != "available" {
		out = append(out, finding(fmt.Sprintf("instance %s is %s, not available", id, s),
			"wait until `aws rds describe-db-instances --db-instance-identifier "+id+"` says available, then run again"))
	}
	if aws.ToBool(inst.StorageEncrypted) {
		out = append(out, finding(fmt.Sprintf("instance %s is already encrypted (key %s)", id, aws.ToString(inst.KmsKeyId)),
			"nothing to do; to change the key, copy a snapshot with the new key and restore it (strategy snapshot-copy works for that too once this check is relaxed)"))
	}
	if willDelete && aws.ToBool(inst.DeletionProtection) {
		out = append(out, finding(fmt.Sprintf("instance %s has deletion protection on, and this run deletes it", id),
			"turn it off first: aws rds modify-db-instance --db-instance-identifier "+id+" --no-deletion-protection --apply-immediately (the new instance gets it back)"))
	}
	return out
}

func (p *Preflight) findings(ctx context.Context, env *steps.Env) (rdstypes.DBInstance, string, []diag.Diagnostic, error) {
	c, err := p.clients(ctx, env)
	if err != nil {
		return rdstypes.DBInstance{}, "", nil, err
	}
	rv := resolving(env)
	id, key, willDelete := rv.text(p.Instance), rv.text(p.KMSKey), rv.flag(p.WillDelete)
	if err := rv.err; err != nil {
		return rdstypes.DBInstance{}, "", nil, err
	}
	var out []diag.Diagnostic
	inst, ok, err := c.Instance(ctx, id)
	if err != nil {
		return inst, "", nil, err
	}
	if !ok {
		out = append(out, finding(fmt.Sprintf("instance %s does not exist in this account and region", id),
			"check the identifier and region: aws rds describe-db-instances --query 'DBInstances[].DBInstanceIdentifier'"))
	} else {
		out = append(out, judge(inst, willDelete)...)
	}
	arn, enabled, err := c.KeyARN(ctx, key)
	switch {
	case IsNotFound(err):
		out = append(out, finding(fmt.Sprintf("KMS key %s does not exist", key), "give an existing key id, ARN or alias (aws kms list-aliases), or create one"))
	case err != nil:
		out = append(out, finding(fmt.Sprintf("KMS key %s cannot be read: %v", key, err), "check the key policy grants this identity kms:DescribeKey"))
	case !enabled:
		out = append(out, finding(fmt.Sprintf("KMS key %s (%s) is disabled", key, arn), "enable it (aws kms enable-key --key-id "+arn+") or choose another key"))
	}
	build, err := p.buildFindings(ctx, env, c, id)
	if err != nil {
		return inst, "", nil, err
	}
	out = append(out, build...)
	for _, f := range p.Free {
		name, err := env.Text(f)
		if err != nil {
			return inst, "", nil, err
		}
		if name == "" || strings.EqualFold(name, id) || p.isTarget(env, name) {
			continue
		}
		if _, taken, err := c.Instance(ctx, name); err != nil {
			return inst, "", nil, err
		} else if taken {
			out = append(out, finding(fmt.Sprintf("identifier %s is taken: an instance by that name exists", name),
				"pass another -p target=…, or delete or rename "+name+" if it is left over from an earlier attempt (`cairn resume` that run instead, if it is one)"))
		}
	}
	for _, f := range p.FreeSnapshots {
		name, err := env.Text(f)
		if err != nil {
			return inst, "", nil, err
		}
		if snap, taken, err := c.Snapshot(ctx, name); err != nil {
			return inst, "", nil, err
		} else if taken {
			out = append(out, takenSnapshot(name, snap))
		}
	}
	secrets, err := p.secretFindings(ctx, env, c)
	return inst, arn, append(out, secrets...), err
}

// secretFindings reads every secret the run will read and lists what is wrong with each.
func (p *Preflight) secretFindings(ctx context.Context, env *steps.Env, c *Clients) ([]diag.Diagnostic, error) {
	rv := resolving(env)
	creds, passwords := rv.text(p.CredentialsSecret), rv.text(p.PasswordsSecret)
	if err := rv.err; err != nil {
		return nil, err
	}
	var out []diag.Diagnostic
	for _, read := range []struct {
		id   string
		read func() error
	}{
		{creds, func() error { _, err := c.MasterCredentials(ctx, env, creds); return err }},
		{passwords, func() error { _, err := c.RolePasswords(ctx, env, passwords); return err }},
	} {
		if read.id == "" {
			continue
		}
		err := read.read()
		if d, ok := SecretFinding(err); ok {
			out = append(out, d)
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Check does the whole preflight: it reads only.
func (p *Preflight) Check(ctx context.Context, env *steps.Env) steps.Check {
	_, _, fs, err := p.findings(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	if len(fs) > 0 {
		return blockedBy(fs)
	}
	return steps.ReadyTo(steps.Read, "source %s can be rebuilt encrypted", env.Describe(p.Instance))
}

// Apply records the source's settings and the key.
func (p *Preflight) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	inst, arn, fs, err := p.findings(ctx, env)
	if err != nil {
		return nil, err
	}
	if len(fs) > 0 {
		return nil, blockedBy(fs).Err()
	}
	s := SettingsOf(inst)
	rv := resolving(env)
	keepIdentifier, target := rv.flag(p.KeepIdentifier), rv.text(p.Target)
	if err := rv.err; err != nil {
		return nil, err
	}
	build := target
	if keepIdentifier || build == "" {
		build = s.Identifier
	}
	env.Info("source: " + s.Summary())
	env.Info("the encrypted instance is built as " + build)
	env.Info("KMS key: " + arn)
	return steps.Outputs{}.Set("settings", s.JSON()).Set("key-arn", arn).Set("master-username", s.MasterUsername).
		Set("engine-version", s.EngineVersion).Set("summary", s.Summary()).Set("build-id", build).
		Set("resource-id", aws.ToString(inst.DbiResourceId)), nil
}

// Verify has nothing to prove: the preflight changed nothing.
func (p *Preflight) Verify(ctx context.Context, env *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (p *Preflight) Rollback(ctx context.Context, env *steps.Env) error { return nil }

// takenSnapshot is the finding for a snapshot name this run would create that exists already. One
// a cairn run made names that run: a run that ended (rolled back, cut back, aborted for good)
// needs it no more — a rollback deletes its insurance snapshot while the instance stands, a
// cut-back keeps it — so deleting it is the one command; a run still to finish is resumed instead.
func takenSnapshot(name string, snap rdstypes.DBSnapshot) diag.Diagnostic {
	del := "aws rds delete-db-snapshot --db-snapshot-identifier " + name
	if run, ok := tagValue(snap.TagList, TagRunID); ok && run != "" {
		return finding(fmt.Sprintf("snapshot identifier %s is taken: cairn run %s made it (taken %s)", name, run, timeText(snap.SnapshotCreateTime)),
			fmt.Sprintf("if run %s has ended (rolled back, cut back, or given up), nothing needs the snapshot: `%s`; if it is to be finished, `cairn resume %s` instead", run, del, run))
	}
	return finding(fmt.Sprintf("snapshot identifier %s is taken", name), "delete the old snapshot (`"+del+"`) once you are sure it is not needed")
}
