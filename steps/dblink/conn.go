package dblink

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
)

// Target is the admin connection to the RDS instance: its endpoint from DescribeDBInstances and the
// master credentials from credentials-secret, or libpq's environment (PGUSER, PGPASSWORD, .pgpass)
// when no secret is given; always sslmode=verify-full against the RDS CA bundle (PGSSLROOTCERT, or the
// twin's), never cleartext password authentication.
type Target struct {
	Region            ref.Template `yaml:"region"`
	Instance          ref.Template `yaml:"instance"`
	CredentialsSecret ref.Template `yaml:"credentials-secret"`
	Database          ref.Template `yaml:"database"`
}

func (t Target) describe(env *steps.Env) string {
	s := "instance " + env.Describe(t.Instance)
	if db := env.Describe(t.Database); db != "" {
		s += " dbname=" + db
	}
	return s
}

// connect opens the admin connection. The password is registered for redaction.
func (t Target) connect(ctx context.Context, env *steps.Env) (*pgx.Conn, error) {
	v := make([]string, 4)
	for i, tt := range []ref.Template{t.Region, t.Instance, t.CredentialsSecret, t.Database} {
		s, err := env.Text(tt)
		if err != nil {
			return nil, err
		}
		v[i] = s
	}
	c, err := awsstep.NewClients(ctx, env, v[0])
	if err != nil {
		return nil, err
	}
	inst, ok, err := c.Instance(ctx, v[1])
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("instance %s does not exist", v[1])
	}
	ep, err := awsstep.EndpointOf(inst)
	if err != nil {
		return nil, err
	}
	var user, password string
	if v[2] != "" {
		cr, err := c.MasterCredentials(ctx, env, v[2])
		if err != nil {
			return nil, err
		}
		user, password = cr.Username, cr.Password
	} else if inst.MasterUsername != nil && env.Env("PGUSER") == "" {
		user = *inst.MasterUsername
	}
	database := "postgres"
	if v[3] != "" {
		database = v[3]
	}
	// The admin login carries the master password (from the secret, PGPASSWORD or .pgpass): TLS
	// verified against the RDS CA bundle, never cleartext password authentication.
	cfg, err := awsstep.MasterConfig(env, ep, database, user, password)
	if err != nil {
		return nil, err
	}
	if cfg.Password != "" && env.Secrets != nil {
		env.Secrets(cfg.Password)
	}
	cfg.RuntimeParams["application_name"] = "cairn"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to instance %s (%s:%d, database %s, user %s): %w", v[1], ep.Host, ep.Port, cfg.Database, cfg.User, err)
	}
	return conn, nil
}

var roleRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$-]{0,62}$`)

// roleList splits a comma-separated list of role names.
func roleList(s string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, r := range strings.Split(s, ",") {
		r = strings.TrimSpace(r)
		if r == "" || seen[r] {
			continue
		}
		if !roleRE.MatchString(r) {
			return nil, fmt.Errorf("grant-to: %q is not a role name", r)
		}
		if r == "public" || r == "PUBLIC" || strings.HasPrefix(r, "pg_") || strings.HasPrefix(r, "rds") {
			return nil, fmt.Errorf("grant-to: %q may not be given connect_remote: name the application roles", r)
		}
		seen[r] = true
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("grant-to: name at least one role")
	}
	return out, nil
}

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

func checkSchema(s string) error {
	if !identRE.MatchString(s) || strings.HasPrefix(s, "pg_") || s == "public" || s == "information_schema" || strings.HasPrefix(s, "aws_") {
		return fmt.Errorf("schema %q: a new lowercase schema name (letters, digits, _), not public, pg_*, aws_*", s)
	}
	return nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
