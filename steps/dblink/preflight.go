package dblink

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
	lambdastep "github.com/cairn-runbooks/cairn/steps/lambda"
)

// Preflight is the `dblink-secret-preflight` kind. It only reads, and collects every problem with its
// fix before anything is made: the instance (exists, available, PostgreSQL) and the admin connection;
// the extensions available; the grant-to roles (exist, not superuser, not rds_superuser members, no
// use of aws_lambda); the schema (absent or cairn's); the owner role connect_remote will run as
// (absent or cairn's, and the admin may create roles); the secret (exists, a JSON object with the keys,
// a valid port, no NUL) and the remote it names (a TLS login with those values); the function and role
// names (free, or cairn's). The secret's password is registered for redaction and never output.
// Outputs: account, region, secret-arn, secret-kms-key (a customer key's ARN, or empty), function-arn.
type Preflight struct {
	Target       `yaml:",inline"`
	Secret       ref.Template   `yaml:"secret"`
	Keys         []string       `yaml:"keys"`
	FunctionName ref.Template   `yaml:"function-name"`
	Bundle       ref.Template   `yaml:"bundle"`
	Roles        []ref.Template `yaml:"roles"`
	Schema       ref.Template   `yaml:"schema"`
	GrantTo      ref.Template   `yaml:"grant-to"`
	Owner        ref.Template   `yaml:"owner"` // the NOLOGIN role that will own connect_remote (default <schema>_owner)
	SSLRootCert  ref.Template   `yaml:"ssl-root-cert"`
	Extensions   []string       `yaml:"extensions"`
}

// OutputNames declares the outputs.
func (p *Preflight) OutputNames() []string {
	return []string{"account", "region", "secret-arn", "secret-kms-key", "function-arn"}
}

// Validate checks the parameters.
func (p *Preflight) Validate() error {
	if p.Instance.IsZero() || p.Secret.IsZero() || p.FunctionName.IsZero() || p.Schema.IsZero() || p.GrantTo.IsZero() || p.SSLRootCert.IsZero() {
		return errors.New("give `instance:`, `secret:`, `function-name:`, `schema:`, `grant-to:` and `ssl-root-cert:`")
	}
	return nil
}

// Describe lists what it reads.
func (p *Preflight) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		{Kind: steps.ActAWS, Target: "sts", Text: "sts GetCallerIdentity"},
		{Kind: steps.ActAWS, Target: "rds", Text: "rds DescribeDBInstances\n  DBInstanceIdentifier: " + env.Describe(p.Instance)},
		{Kind: steps.ActAWS, Target: "secretsmanager", Text: "secretsmanager DescribeSecret + GetSecretValue\n  SecretId: " + env.Describe(p.Secret) + "\n  (the value is checked, never shown)"},
		{Kind: steps.ActAWS, Target: "lambda", Text: "lambda GetFunction\n  FunctionName: " + env.Describe(p.FunctionName)},
		{Kind: steps.ActAWS, Target: "iam", Text: "iam GetRole for each role name"},
		{Kind: steps.ActSQL, Target: p.Target.describe(env), Text: "-- read: pg_available_extensions, pg_roles (grant-to; owner " + orDefault(env.Describe(p.Owner), defaultOwner(env.Describe(p.Schema))) + " absent or cairn's; the admin may create roles), pg_namespace (schema), privileges on aws_lambda"},
		{Kind: steps.ActSQL, Target: "the remote named by the secret", Text: "-- a TLS login (sslmode=verify-full with ssl-root-cert when that file is here) with the secret's values, then SELECT 1"},
	}
}

type preflightResult struct {
	outs     steps.Outputs
	problems []string // "what — fix"
	notes    []string
}

func (r *preflightResult) problem(what, fix string) {
	r.problems = append(r.problems, what+" — "+fix)
}

func (p *Preflight) run(ctx context.Context, env *steps.Env) (preflightResult, error) {
	res := preflightResult{outs: steps.Outputs{}}
	v := map[string]string{}
	for k, t := range map[string]ref.Template{"region": p.Region, "instance": p.Instance, "secret": p.Secret, "function": p.FunctionName,
		"bundle": p.Bundle, "schema": p.Schema, "grant": p.GrantTo, "rootcert": p.SSLRootCert, "owner": p.Owner} {
		s, err := env.Text(t)
		if err != nil {
			return res, err
		}
		v[k] = s
	}
	var roles []string
	for _, t := range p.Roles {
		s, err := env.Text(t)
		if err != nil {
			return res, err
		}
		roles = append(roles, s)
	}
	grantTo, err := roleList(v["grant"])
	if err != nil {
		res.problem(err.Error(), "give -p grant-to=role1,role2 (application roles)")
	}
	if err := checkSchema(v["schema"]); err != nil {
		res.problem(err.Error(), "give -p schema=<new schema name>")
	}
	if v["owner"] == "" {
		v["owner"] = defaultOwner(v["schema"])
	}
	if err := checkOwner(v["owner"], grantTo); err != nil {
		res.problem(err.Error(), "give -p owner-role=<new role name>")
	}
	if err := checkRootCert(v["rootcert"]); err != nil {
		res.problem(err.Error(), "give -p ssl-root-cert=<path of the CA bundle on the database server>")
	}
	if err := checkRegion("region", v["region"]); err != nil {
		res.problem(err.Error(), "give -p region=<AWS region>, e.g. us-east-1")
	}
	cfg, err := awsstep.LoadConfig(ctx, v["region"])
	if err != nil {
		return res, err
	}
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return res, fmt.Errorf("sts GetCallerIdentity: %w", err)
	}
	account := aws.ToString(id.Account)
	res.outs.Set("account", account)
	res.outs.Set("region", cfg.Region)
	if v["region"] == "" {
		if err := checkRegion("the region of the AWS configuration (AWS_REGION, the profile)", cfg.Region); err != nil {
			res.problem(err.Error(), "give -p region=<AWS region>, e.g. us-east-1")
		}
	}
	res.outs.Set("function-arn", fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", cfg.Region, account, v["function"]))

	// The secret and the remote it names.
	remote := p.checkSecret(ctx, env, cfg, v["secret"], &res)

	// The instance and the database.
	conn, err := p.connect(ctx, env)
	if err != nil {
		res.problem(err.Error(), "check the instance identifier, credentials-secret (or PGUSER/PGPASSWORD/.pgpass) and PGSSLROOTCERT (the RDS CA bundle)")
	} else {
		defer conn.Close(context.WithoutCancel(ctx))
		p.checkDatabase(ctx, conn, grantTo, v["schema"], &res)
		checkOwnerRole(ctx, conn, v["owner"], &res)
	}
	if remote != nil {
		p.checkRemote(ctx, remote, v["rootcert"], &res)
	}

	// The names this run will create.
	if d, err := lambdastep.Look(ctx, lambda.NewFromConfig(cfg), v["function"]); err != nil {
		res.problem(err.Error(), "check lambda:GetFunction permissions")
	} else if d.Exists && d.Tag != v["bundle"] {
		res.problem(lambdastep.ForeignReason(v["function"], d), lambdastep.ForeignFix(v["function"]))
	}
	ic := iam.NewFromConfig(cfg)
	for _, r := range roles {
		out, err := ic.GetRole(ctx, &iam.GetRoleInput{RoleName: &r})
		var nse *iamtypes.NoSuchEntityException
		switch {
		case errors.As(err, &nse):
		case err != nil:
			res.problem(fmt.Sprintf("iam GetRole %s: %v", r, err), "check iam:GetRole permissions")
		case !slices.ContainsFunc(out.Role.Tags, func(t iamtypes.Tag) bool { return aws.ToString(t.Key) == awsstep.ManagedTag }):
			res.problem(fmt.Sprintf("IAM role %s exists and was not created by cairn", r), fmt.Sprintf("choose another -p role-name=…, or delete role %s if unused", r))
		}
	}
	return res, nil
}

type remoteInfo struct {
	host, dbname, user, password string
	port                         int
}

func (p *Preflight) checkSecret(ctx context.Context, env *steps.Env, cfg aws.Config, secret string, res *preflightResult) *remoteInfo {
	sm := secretsmanager.NewFromConfig(cfg)
	desc, err := sm.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: &secret})
	if err != nil {
		if awsstep.IsNotFound(err) {
			res.problem(fmt.Sprintf("secret %s does not exist", secret), "create it: aws secretsmanager create-secret --name "+secret+` --secret-string '{"username":…,"password":…,"host":…,"port":5432,"dbname":…}'`)
		} else {
			res.problem(fmt.Sprintf("secretsmanager DescribeSecret %s: %v", secret, err), "check secretsmanager:DescribeSecret permissions")
		}
		return nil
	}
	res.outs.Set("secret-arn", aws.ToString(desc.ARN))
	kms := aws.ToString(desc.KmsKeyId)
	if kms == "alias/aws/secretsmanager" {
		kms = ""
	}
	res.outs.Set("secret-kms-key", kms)
	val, err := sm.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: &secret})
	if err != nil {
		res.problem(fmt.Sprintf("secretsmanager GetSecretValue %s: %v", secret, err), "check secretsmanager:GetSecretValue permissions (and kms:Decrypt on its key)")
		return nil
	}
	if val.SecretString == nil {
		res.problem(fmt.Sprintf("secret %s holds binary data, not a JSON object", secret), "store the connection as JSON text: aws secretsmanager put-secret-value --secret-id "+secret+" --secret-string '{…}'")
		return nil
	}
	var obj map[string]any
	if json.Unmarshal([]byte(*val.SecretString), &obj) != nil || obj == nil {
		// Never quote the value: say only what is wrong.
		res.problem(fmt.Sprintf("secret %s is not a JSON object", secret), `store {"username","password","host","port","dbname"} as JSON: aws secretsmanager put-secret-value --secret-id `+secret+` --secret-string file://secret.json`)
		return nil
	}
	keys := p.Keys
	if len(keys) == 0 {
		keys = []string{"username", "password", "host", "port", "dbname"}
	}
	str := map[string]string{}
	var missing []string
	for _, k := range keys {
		switch x := obj[k].(type) {
		case string:
			if x == "" {
				missing = append(missing, k+" (empty)")
			} else if strings.ContainsRune(x, 0) {
				missing = append(missing, k+" (holds a NUL character, which libpq cannot pass)")
			}
			str[k] = x
		case float64:
			str[k] = strconv.FormatFloat(x, 'f', -1, 64)
		case nil:
			missing = append(missing, k)
		default:
			missing = append(missing, k+" (not a string or number)")
		}
	}
	if pw := str["password"]; pw != "" && env.Secrets != nil {
		env.Secrets(pw)
	}
	port, err := strconv.Atoi(str["port"])
	if str["port"] != "" && (err != nil || port < 1 || port > 65535) {
		missing = append(missing, "port (not a port number)")
	}
	if len(missing) > 0 {
		res.problem(fmt.Sprintf("secret %s lacks usable keys: %s", secret, strings.Join(missing, ", ")),
			"put a JSON object with "+strings.Join(keys, ", ")+" (aws secretsmanager put-secret-value --secret-id "+secret+" --secret-string file://secret.json)")
		return nil
	}
	return &remoteInfo{host: str["host"], port: port, dbname: str["dbname"], user: str["username"], password: str["password"]}
}

func (p *Preflight) checkRemote(ctx context.Context, r *remoteInfo, rootCert string, res *preflightResult) {
	// The host goes into the connection string (not into cfg.Host afterwards), so that TLS verifies
	// the certificate against that name and the default host's settings never apply.
	base := fmt.Sprintf("host=%s port=%d dbname=%s ", quoteConn(r.host), r.port, quoteConn(r.dbname))
	// Unverified TLS: a server in the middle must not get the password in cleartext.
	cfg, err := pgx.ParseConfig(base + "sslmode=require require_auth=!password")
	if _, serr := os.Stat(rootCert); serr == nil {
		cfg, err = pgx.ParseConfig(base + "sslmode=verify-full sslrootcert=" + quoteConn(rootCert))
	} else {
		res.notes = append(res.notes, fmt.Sprintf("%s is not on this host: the remote's certificate is checked with sslmode=require here, with verify-full by the database", rootCert))
	}
	if err != nil {
		res.problem(fmt.Sprintf("TLS settings for the remote: %v", err), "check ssl-root-cert")
		return
	}
	cfg.User, cfg.Password, cfg.Fallbacks = r.user, r.password, nil
	cfg.RuntimeParams["application_name"] = "cairn preflight"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		res.problem(fmt.Sprintf("cannot log in to the remote %s:%d database %s as %s with the secret's values: %v", r.host, r.port, r.dbname, r.user, err),
			"fix the secret's values or the remote's pg_hba/password/certificate; the remote must be reachable over TLS")
		return
	}
	defer c.Close(context.WithoutCancel(ctx))
	var one int
	if err := c.QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
		res.problem(fmt.Sprintf("the remote %s:%d answers but SELECT 1 failed: %v", r.host, r.port, err), "check the remote")
	}
}

func quoteConn(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

func (p *Preflight) checkDatabase(ctx context.Context, c *pgx.Conn, grantTo []string, schema string, res *preflightResult) {
	exts := p.Extensions
	if len(exts) == 0 {
		exts = []string{"aws_commons", "aws_lambda", "dblink"}
	}
	for _, e := range exts {
		var avail bool
		if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = $1)`, e).Scan(&avail); err != nil {
			res.problem("read pg_available_extensions: "+err.Error(), "check the admin connection")
			return
		}
		if !avail {
			res.problem(fmt.Sprintf("extension %s is not available on this server", e),
				"use an engine version that ships it (aws_lambda: RDS for PostgreSQL 12.6+, 13.2+, 14.1+, 15+; Aurora PostgreSQL 11.9+)")
		}
	}
	var canCreate bool
	if err := c.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'CREATE')`).Scan(&canCreate); err == nil && !canCreate {
		res.problem("the admin user may not create schemas or extensions in this database", "connect as the master user (credentials-secret) or GRANT CREATE ON DATABASE to the admin")
	}
	for _, r := range grantTo {
		var exists, super, rdsSuper bool
		err := c.QueryRow(ctx, `SELECT true, rolsuper, pg_has_role(oid, 'rds_superuser', 'USAGE') FROM pg_roles WHERE rolname = $1`, r).Scan(&exists, &super, &rdsSuper)
		if errors.Is(err, pgx.ErrNoRows) {
			res.problem(fmt.Sprintf("grant-to role %s does not exist", r), fmt.Sprintf("create it first (CREATE ROLE %s LOGIN …) or fix -p grant-to", r))
			continue
		}
		if err != nil {
			// rds_superuser may not exist (not RDS): retry without it.
			err = c.QueryRow(ctx, `SELECT true, rolsuper, false FROM pg_roles WHERE rolname = $1`, r).Scan(&exists, &super, &rdsSuper)
			if err != nil {
				res.problem(fmt.Sprintf("read role %s: %v", r, err), "check the admin connection")
				continue
			}
		}
		if super || rdsSuper {
			res.problem(fmt.Sprintf("grant-to role %s is a superuser or a member of rds_superuser: it could call aws_lambda.invoke itself and read the password", r),
				fmt.Sprintf("give connect_remote to an application role instead (REVOKE rds_superuser FROM %s)", r))
			continue
		}
		var lambdaUse bool
		if err := c.QueryRow(ctx, `SELECT coalesce(has_schema_privilege($1, 'aws_lambda', 'USAGE'), false) FROM pg_namespace WHERE nspname = 'aws_lambda'`, r).Scan(&lambdaUse); err == nil && lambdaUse {
			res.problem(fmt.Sprintf("grant-to role %s may use schema aws_lambda: it could invoke the function itself and read the password", r),
				fmt.Sprintf("REVOKE USAGE ON SCHEMA aws_lambda FROM %s (and EXECUTE ON ALL FUNCTIONS IN SCHEMA aws_lambda)", r))
		}
	}
	var comment *string
	err := c.QueryRow(ctx, `SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = $1`, schema).Scan(&comment)
	if err == nil && (comment == nil || *comment != SchemaMarker) {
		res.problem(fmt.Sprintf("schema %s exists and was not made by cairn", schema), "choose another -p schema=…")
	}
}

// checkOwnerRole: the role connect_remote will be owned by is absent (the admin must then be allowed
// to create it) or one cairn made.
func checkOwnerRole(ctx context.Context, c *pgx.Conn, owner string, res *preflightResult) {
	var comment *string
	err := c.QueryRow(ctx, `SELECT shobj_description(oid, 'pg_authid') FROM pg_roles WHERE rolname = $1`, owner).Scan(&comment)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		var may bool
		if err := c.QueryRow(ctx, `SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user`).Scan(&may); err == nil && !may {
			res.problem(fmt.Sprintf("the admin user may not create the owner role %s (no CREATEROLE)", owner), "connect as the master user (credentials-secret), which has CREATEROLE on RDS")
		}
	case err != nil:
		res.problem(fmt.Sprintf("read role %s: %v", owner, err), "check the admin connection")
	case comment == nil || *comment != OwnerMarker:
		res.problem(fmt.Sprintf("role %s exists and was not made by cairn", owner), "choose another -p owner-role=… : cairn makes its own NOLOGIN role to own connect_remote")
	}
}

// Check runs the preflight and says Blocked with every problem, or ready to read.
func (p *Preflight) Check(ctx context.Context, env *steps.Env) steps.Check {
	res, err := p.run(ctx, env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.BlockedBy(err.Error(), "check the AWS credentials and region (aws sts get-caller-identity)")
	}
	if len(res.problems) > 0 {
		return blocked(res.problems)
	}
	return steps.ReadyTo(steps.Read, "instance, secret, remote, extensions, roles and names are ready")
}

func blocked(problems []string) steps.Check {
	var reasons, fixes []string
	for _, pr := range problems {
		what, fix, _ := strings.Cut(pr, " — ")
		reasons = append(reasons, what)
		fixes = append(fixes, fix)
	}
	return steps.BlockedBy(strings.Join(reasons, "; "), strings.Join(fixes, "; "))
}

// Apply runs the preflight and returns its outputs, or every problem.
func (p *Preflight) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	res, err := p.run(ctx, env)
	if err != nil {
		return nil, err
	}
	for _, n := range res.notes {
		env.Info(n)
	}
	if len(res.problems) > 0 {
		return nil, fmt.Errorf("preflight found %d problem(s), nothing was changed:\n  - %s", len(res.problems), strings.Join(res.problems, "\n  - "))
	}
	return res.outs, nil
}

// Verify has nothing to prove.
func (p *Preflight) Verify(ctx context.Context, env *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (p *Preflight) Rollback(ctx context.Context, env *steps.Env) error { return nil }
