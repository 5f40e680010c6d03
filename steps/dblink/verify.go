package dblink

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Verify is the `dblink-secret-verify` kind, a read-only proof: PUBLIC cannot execute connect_remote;
// each grant-to role can, and can neither use schema aws_lambda or aws_commons nor execute any of their
// functions, nor is a superuser or rds_superuser member; connect_remote's owner is the `owner` role
// (when given), which cannot log in and is no superuser; and the whole chain works — connect_remote
// (invoked by the admin, a member of its owner role) gets the values from the Lambda function,
// connects over verify-full TLS and the remote answers through dblink. The connection it opens is
// closed again.
type Verify struct {
	Target  `yaml:",inline"`
	Schema  ref.Template `yaml:"schema"`
	Secret  ref.Template `yaml:"secret"`
	GrantTo ref.Template `yaml:"grant-to"`
	Owner   ref.Template `yaml:"owner"` // the NOLOGIN role that must own connect_remote (optional)
}

// Validate checks the parameters.
func (v *Verify) Validate() error {
	if v.Instance.IsZero() || v.Schema.IsZero() || v.Secret.IsZero() || v.GrantTo.IsZero() {
		return errors.New("give `instance:`, `schema:`, `secret:` and `grant-to:`")
	}
	return nil
}

// Describe lists the queries.
func (v *Verify) Describe(env *steps.Env) []steps.Action {
	t := v.Target.describe(env)
	s := env.Describe(v.Schema)
	return []steps.Action{
		{Kind: steps.ActSQL, Target: t, Text: "-- for each grant-to role: has_function_privilege on " + s + ".connect_remote = true; on every function of aws_lambda, aws_commons = false; has_schema_privilege(aws_lambda|aws_commons, USAGE) = false; not superuser, not in rds_superuser; PUBLIC has no EXECUTE"},
		{Kind: steps.ActSQL, Target: t, Text: "-- " + s + ".connect_remote's owner is " + orDefault(env.Describe(v.Owner), "(any)") + ": rolcanlogin = false, rolsuper = false"},
		{Kind: steps.ActSQL, Target: t, Text: "SELECT " + s + ".connect_remote('cairn_verify', " + env.Describe(v.Secret) + ")"},
		{Kind: steps.ActSQL, Target: t, Text: "SELECT x FROM dblink('cairn_verify', 'SELECT 1') AS t(x int)"},
		{Kind: steps.ActSQL, Target: t, Text: "SELECT dblink_disconnect('cairn_verify')"},
	}
}

// Check says it will read.
func (v *Verify) Check(ctx context.Context, env *steps.Env) steps.Check {
	return steps.ReadyTo(steps.Read, "proves the grants and one connection through the whole chain")
}

// Apply runs the proof.
func (v *Verify) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return steps.Outputs{}, v.prove(ctx, env)
}

// Verify runs the proof.
func (v *Verify) Verify(ctx context.Context, env *steps.Env) error { return v.prove(ctx, env) }

// Rollback has nothing to undo.
func (v *Verify) Rollback(ctx context.Context, env *steps.Env) error { return nil }

func (v *Verify) prove(ctx context.Context, env *steps.Env) error {
	schema, err := env.Text(v.Schema)
	if err != nil {
		return err
	}
	secret, err := env.Text(v.Secret)
	if err != nil {
		return err
	}
	grant, err := env.Text(v.GrantTo)
	if err != nil {
		return err
	}
	roles, err := roleList(grant)
	if err != nil {
		return err
	}
	c, err := v.connect(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	problems, err := Privileges(ctx, c, schema, roles)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &steps.VerifyError{What: "privileges", Expected: "connect_remote for the grant-to roles only; aws_lambda and aws_commons for none of them", Found: strings.Join(problems, "; ")}
	}
	env.Info(fmt.Sprintf("privileges: only %s may execute %s.connect_remote; none of them may use aws_lambda or aws_commons", strings.Join(roles, ", "), schema))
	owner, err := env.Text(v.Owner)
	if err != nil {
		return err
	}
	var fnOwner string
	var login, super bool
	if err := c.QueryRow(ctx, `SELECT r.rolname, r.rolcanlogin, r.rolsuper FROM pg_proc p JOIN pg_roles r ON r.oid = p.proowner WHERE p.oid = to_regprocedure($1)`,
		schema+".connect_remote(text,text)").Scan(&fnOwner, &login, &super); err != nil {
		return fmt.Errorf("read the owner of %s.connect_remote: %w", schema, err)
	}
	if owner != "" && fnOwner != owner || login || super {
		return &steps.VerifyError{What: schema + ".connect_remote's owner", Expected: "the NOLOGIN role " + orDefault(owner, "made for it") + ", no superuser",
			Found: fmt.Sprintf("%s (may log in: %t, superuser: %t)", fnOwner, login, super)}
	}
	env.Info(fmt.Sprintf("%s.connect_remote runs as its owner %s, which cannot log in and is no superuser", schema, fnOwner))
	var status string
	if err := c.QueryRow(ctx, "SELECT "+ident(schema)+".connect_remote('cairn_verify', $1)", secret).Scan(&status); err != nil {
		return fmt.Errorf("connect_remote('cairn_verify', %s): %w", secret, err)
	}
	defer c.Exec(context.WithoutCancel(ctx), "SELECT dblink_disconnect('cairn_verify')")
	var one int
	if err := c.QueryRow(ctx, "SELECT x FROM dblink('cairn_verify', 'SELECT 1') AS t(x int)").Scan(&one); err != nil || one != 1 {
		return fmt.Errorf("the remote did not answer through dblink after %q: %v", status, err)
	}
	var ssl string
	if err := c.QueryRow(ctx, "SELECT s FROM dblink('cairn_verify', 'SELECT coalesce((SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()), ''false'')') AS t(s text)").Scan(&ssl); err == nil && ssl != "true" {
		return &steps.VerifyError{What: "the dblink connection", Expected: "TLS", Found: "no TLS"}
	}
	env.Info(fmt.Sprintf("connect_remote said %q; the remote answered over TLS through dblink", status))
	return nil
}

// Privileges lists what is wrong with who may run connect_remote and the aws_lambda functions.
func Privileges(ctx context.Context, c *pgx.Conn, schema string, roles []string) ([]string, error) {
	var problems []string
	fn := schema + ".connect_remote(text,text)"
	var public bool
	if err := c.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(p.proacl) a WHERE p.oid = to_regprocedure($1) AND a.grantee = 0)
		OR (SELECT proacl IS NULL FROM pg_proc WHERE oid = to_regprocedure($1))`, fn).Scan(&public); err != nil {
		return nil, fmt.Errorf("read the grants of %s: %w", fn, err)
	}
	if public {
		problems = append(problems, "PUBLIC may execute "+fn)
	}
	for _, r := range roles {
		var can, super, rdsSuper bool
		if err := c.QueryRow(ctx, `SELECT has_function_privilege($1, to_regprocedure($2), 'EXECUTE'), rolsuper,
				EXISTS (SELECT 1 FROM pg_roles s WHERE s.rolname = 'rds_superuser' AND pg_has_role($1, s.oid, 'MEMBER'))
			FROM pg_roles WHERE rolname = $1`, r, fn).Scan(&can, &super, &rdsSuper); err != nil {
			return nil, fmt.Errorf("read role %s: %w", r, err)
		}
		if !can {
			problems = append(problems, r+" may not execute "+fn)
		}
		if super || rdsSuper {
			problems = append(problems, r+" is a superuser or member of rds_superuser")
		}
		rows, err := c.Query(ctx, `SELECT n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')'
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
			WHERE n.nspname IN ('aws_lambda', 'aws_commons') AND has_function_privilege($1, p.oid, 'EXECUTE')
			UNION ALL
			SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname IN ('aws_lambda', 'aws_commons') AND has_schema_privilege($1, oid, 'USAGE')`, r)
		if err != nil {
			return nil, fmt.Errorf("read %s's privileges on aws_lambda: %w", r, err)
		}
		usable, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		if len(usable) > 0 {
			problems = append(problems, fmt.Sprintf("%s may use %s (it could invoke the function itself)", r, strings.Join(usable, ", ")))
		}
	}
	return problems, nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// Register adds the kinds.
func Register(r *steps.Registry) {
	r.Register("dblink-secret-preflight", "read-only: instance, extensions, grant-to roles, the secret (JSON, keys) and its remote, free names — every problem at once", func() steps.Step { return &Preflight{} })
	r.Register("pg-extension", "CREATE EXTENSION … CASCADE on an RDS instance; rollback drops only what cairn created", func() steps.Step { return &Extension{} })
	r.Register("dblink-secret-function", "a schema with an allow-list and ONE SECURITY DEFINER connect_remote(conn_name, secret_id): no password ever returned", func() steps.Step { return &Function{} })
	r.Register("dblink-secret-verify", "prove who may run connect_remote and aws_lambda, and one TLS connection through the whole chain", func() steps.Step { return &Verify{} })
}
