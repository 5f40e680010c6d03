package awsstep

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Create is the `rds-create-instance` kind (the logical path): CreateDBInstance with the source's
// settings from the preflight — the operational ones included (option group, windows, IAM
// authentication, log exports, IOPS and throughput, storage autoscaling, CA certificate, Performance
// Insights, Enhanced Monitoring, license model), which CreateDBInstance all takes —, StorageEncrypted
// and the KMS key, and the master user of the source.
// The master password comes from CredentialsSecret (Secrets Manager, JSON username/password) or
// Password (a secret parameter, e.g. prompted); it is never journaled or written to disk.
//
// RDS refuses some characters in MasterUserPassword (" @ / and space) that a rotated password may
// hold, so the instance is created with a stand-in password derived from the real one (HMAC, so a
// resumed run can recompute it and nothing needs storing), and the real password is then set over
// SQL as a SCRAM verifier computed here — the server never sees it in clear.
type Create struct {
	Region            `yaml:",inline"`
	Identifier        ref.Template `yaml:"identifier"`
	Settings          ref.Template `yaml:"settings"`
	KMSKey            ref.Template `yaml:"kms-key"`
	CredentialsSecret ref.Template `yaml:"credentials-secret"`
	Password          ref.Template `yaml:"password"`
}

// registerCreate adds the `rds-create-instance` kind.
func registerCreate(r *steps.Registry) {
	r.Register("rds-create-instance", "CreateDBInstance encrypted with the source's settings; master password from a secret", func() steps.Step { return &Create{} })
}

// OutputNames declares the outputs.
func (c *Create) OutputNames() []string { return []string{"arn", "endpoint", "resource-id"} }

// Validate checks the parameters.
func (c *Create) Validate() error {
	if c.Identifier.IsZero() || c.Settings.IsZero() || c.KMSKey.IsZero() {
		return fmt.Errorf("give `identifier:`, `settings:` (the preflight's output) and `kms-key:`")
	}
	return nil
}

// createInput is the CreateDBInstance call for the source's settings s (password: the stand-in).
func createInput(env *steps.Env, id, key, password string, s Settings) *rds.CreateDBInstanceInput {
	in := &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: &id, Engine: aws.String("postgres"), EngineVersion: aws.String(s.EngineVersion),
		DBInstanceClass: aws.String(s.Class), AllocatedStorage: aws.Int32(s.AllocatedStorage),
		MasterUsername: aws.String(s.MasterUsername), MasterUserPassword: aws.String(password),
		Port: aws.Int32(s.Port), StorageEncrypted: aws.Bool(true), KmsKeyId: aws.String(key),
		MultiAZ: aws.Bool(s.MultiAZ), PubliclyAccessible: aws.Bool(s.PubliclyAccessible),
		CopyTagsToSnapshot: aws.Bool(s.CopyTagsToSnapshot), DeletionProtection: aws.Bool(s.DeletionProtection),
		BackupRetentionPeriod: aws.Int32(s.BackupRetention), Tags: runTags(env, s.Tags, s.ResourceID),
	}
	p := s.placement()
	in.StorageType, in.DBParameterGroupName, in.DBSubnetGroupName = p.storageType, p.parameterGroup, p.subnetGroup
	in.VpcSecurityGroupIds, in.AvailabilityZone = p.securityGroups, p.availabilityZone
	s.toCreate(in)
	return in
}

// Describe lists the calls, the create with every member it sends.
func (c *Create) Describe(env *steps.Env) []steps.Action {
	const pw = "•••• (stand-in; the real one is set over SQL below)"
	var create steps.Action
	st, err := env.Text(c.Settings)
	s, perr := ParseSettings(st)
	if err == nil && perr == nil {
		create = callOf("rds CreateDBInstance", createInput(env, env.Describe(c.Identifier), env.Describe(c.KMSKey), "", s), map[string]string{"MasterUserPassword": pw})
	} else {
		create = call("rds CreateDBInstance", "DBInstanceIdentifier", env.Describe(c.Identifier), "Engine", "postgres", "StorageEncrypted", "true", "KmsKeyId", env.Describe(c.KMSKey),
			"MasterUserPassword", pw, "settings", "copied from the source (known after apply)")
	}
	src := "credentials secret " + env.Describe(c.CredentialsSecret)
	if c.CredentialsSecret.IsZero() || env.Describe(c.CredentialsSecret) == "" {
		src = "the password parameter"
	}
	return []steps.Action{
		create,
		{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + env.Describe(c.Identifier) + " until it answers and is available"},
		{Kind: steps.ActSQL, Target: env.Describe(c.Identifier), Text: "ALTER ROLE <master> PASSWORD '<SCRAM verifier of the password from " + src + ">'"},
	}
}

func (c *Create) credentials(ctx context.Context, env *steps.Env, cl *Clients, s Settings) (Credentials, error) {
	rv := resolving(env)
	secret := rv.text(c.CredentialsSecret)
	if err := rv.err; err != nil {
		return Credentials{}, err
	}
	if secret != "" {
		cr, err := cl.MasterCredentials(ctx, env, secret)
		if err != nil {
			return cr, err
		}
		if cr.Username != s.MasterUsername {
			env.Info(fmt.Sprintf("note: the secret's username %s differs from the source's master user %s; the new instance's master is %s", cr.Username, s.MasterUsername, s.MasterUsername))
		}
		cr.Username = s.MasterUsername
		return cr, nil
	}
	pw, err := env.OptionalText(c.Password)
	if err != nil {
		return Credentials{}, err
	}
	if pw == "" {
		return Credentials{}, fmt.Errorf("no master password: give credentials-secret (a Secrets Manager secret) or the password parameter")
	}
	return Credentials{Username: s.MasterUsername, Password: pw}, nil
}

// standIn derives the password the instance is created with: printable, allowed by RDS.
func standIn(real, id string) string {
	m := hmac.New(sha256.New, []byte(real))
	m.Write([]byte("cairn stand-in master password for " + id))
	return "Cn1-" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))[:28]
}

// login connects as the master user with a master password: verify-full TLS, never cleartext
// password authentication (MasterConfig).
func login(ctx context.Context, env *steps.Env, ep Endpoint, user, pw string) (*pgx.Conn, error) {
	cfg, err := MasterConfig(env, ep, "postgres", user, pw)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg)
}

func (c *Create) state(ctx context.Context, env *steps.Env) (cl *Clients, s Settings, id, key string, err error) {
	rv := resolving(env)
	id, settings, key := rv.text(c.Identifier), rv.text(c.Settings), rv.text(c.KMSKey)
	if err := rv.err; err != nil {
		return nil, s, "", "", err
	}
	if s, err = ParseSettings(settings); err != nil {
		return nil, s, "", "", err
	}
	cl, err = c.clients(ctx, env)
	return cl, s, id, key, err
}

// Check looks at the instance and whether the master can log in with the real password.
func (c *Create) Check(ctx context.Context, env *steps.Env) steps.Check {
	cl, s, id, key, err := c.state(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	if _, err := CABundle(env); err != nil {
		return steps.BlockedBy(err.Error(), "set PGSSLROOTCERT to the RDS CA bundle, then plan again")
	}
	inst, ok, err := cl.Instance(ctx, id)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !ok {
		return steps.ReadyTo(steps.Create, "create %s encrypted with %s", id, key)
	}
	good, want, err := judgeEncryption(ctx, cl, inst, key)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !good {
		return steps.BlockedBy(fmt.Sprintf("instance %s exists but is not %s", id, want), "it is not the instance this step creates: choose another identifier, or delete it")
	}
	if ours, why := instanceIsOurs(env, inst); !ours {
		return steps.BlockedBy(why, fixForeignInstance(id))
	}
	if st := aws.ToString(inst.DBInstanceStatus); st != "available" {
		return steps.ReadyTo(steps.Create, "instance %s is %s → wait, then set the master password", id, st)
	}
	if err := verifyInstance(ctx, cl, id, key, &s.Class, optString(s.ParameterGroup), s.SecurityGroups, s, nil); err != nil {
		// created, but its settings are not (or no longer) the source's: do not call it done
		return steps.BlockedBy(fmt.Sprintf("instance %s exists but differs from what this step creates: %v", id, err),
			"put the settings back with `aws rds modify-db-instance --db-instance-identifier "+id+" … --apply-immediately` (or delete the instance and run this step again)")
	}
	cr, err := c.credentials(ctx, env, cl, s)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	ep, err := EndpointOf(inst)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	conn, err := login(ctx, env, ep, cr.Username, cr.Password)
	if err != nil {
		return steps.ReadyTo(steps.Update, "instance %s exists; its master cannot log in with the real password yet → set it", id)
	}
	conn.Close(context.WithoutCancel(ctx))
	return steps.AlreadyDone("instance %s exists, %s, available; the master logs in with the real password", id, want)
}

// Apply creates the instance (unless it exists), waits, and sets the real master password.
func (c *Create) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	cl, s, id, key, err := c.state(ctx, env)
	if err != nil {
		return nil, err
	}
	cr, err := c.credentials(ctx, env, cl, s)
	if err != nil {
		return nil, err
	}
	if _, err := CABundle(env); err != nil {
		return nil, fmt.Errorf("%w; nothing was created", err)
	}
	tmp := standIn(cr.Password, id)
	if env.Secrets != nil {
		env.Secrets(tmp)
	}
	if inst, ok, err := cl.Instance(ctx, id); err != nil {
		return nil, err
	} else if ok {
		if ours, why := instanceIsOurs(env, inst); !ours {
			return nil, steps.Failed(fixForeignInstance(id), "%s: nothing was created", why)
		}
	} else {
		in := createInput(env, id, key, tmp, s)
		if _, err := cl.RDS.CreateDBInstance(ctx, in); err != nil {
			return nil, withKMSFix(fmt.Errorf("CreateDBInstance %s: %w", id, err), key, "instance "+id, env)
		}
		env.Info("creating instance " + id + " encrypted with " + key + ": " + s.Summary())
	}
	inst, err := cl.WaitInstance(ctx, env, id)
	if err != nil {
		return nil, err
	}
	ep, err := EndpointOf(inst)
	if err != nil {
		return nil, err
	}
	if conn, err := login(ctx, env, ep, cr.Username, cr.Password); err == nil {
		conn.Close(context.WithoutCancel(ctx))
		return instanceOutputs(inst), nil
	}
	conn, err := login(ctx, env, ep, cr.Username, tmp)
	if err != nil {
		return nil, steps.Failed("reset it: aws rds modify-db-instance --db-instance-identifier "+id+" --master-user-password … --apply-immediately, then retry", "log in to %s as %s with the stand-in password: %w", id, cr.Username, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	verifier, err := ref.ScramVerifier(cr.Password)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, "ALTER ROLE "+pgx.Identifier{cr.Username}.Sanitize()+" PASSWORD "+quoteLiteral(verifier)); err != nil {
		return nil, fmt.Errorf("set the master password of %s: %w", id, err)
	}
	env.Info("master password of " + id + " set (as a SCRAM verifier) from " + map[bool]string{true: "the credentials secret", false: "the password parameter"}[!c.CredentialsSecret.IsZero()])
	return instanceOutputs(inst), nil
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// Observe reads the outputs of an instance found done.
func (c *Create) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return observeInstance(ctx, env, c.Region, c.Identifier)
}

// Verify proves the instance is available, encrypted with the key, has the source's class,
// parameter group, security groups and operational settings, and the master logs in with the real
// password.
func (c *Create) Verify(ctx context.Context, env *steps.Env) error {
	cl, s, id, key, err := c.state(ctx, env)
	if err != nil {
		return err
	}
	if err := verifyInstance(ctx, cl, id, key, &s.Class, optString(s.ParameterGroup), s.SecurityGroups, s, nil); err != nil {
		return err
	}
	inst, _, err := cl.Instance(ctx, id)
	if err != nil {
		return err
	}
	ep, err := EndpointOf(inst)
	if err != nil {
		return err
	}
	cr, err := c.credentials(ctx, env, cl, s)
	if err != nil {
		return err
	}
	conn, err := login(ctx, env, ep, cr.Username, cr.Password)
	if err != nil {
		return &steps.VerifyError{What: "master login to " + id, Expected: "success with the real password", Found: err.Error()}
	}
	conn.Close(context.WithoutCancel(ctx))
	return nil
}

// Rollback deletes the instance it made (only if encrypted with the key: never the source).
func (c *Create) Rollback(ctx context.Context, env *steps.Env) error {
	cl, _, id, key, err := c.state(ctx, env)
	if err != nil {
		return err
	}
	return deleteMade(ctx, env, cl, id, key)
}
