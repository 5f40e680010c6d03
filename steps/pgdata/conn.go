package pgdata

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
)

// Server says how to reach one PostgreSQL server: an RDS instance (endpoint from
// DescribeDBInstances) with its master credentials from a Secrets Manager secret, or a libpq
// connection string / libpq's environment (PGHOST, PGUSER, .pgpass) for anything else.
type Server struct {
	Region            ref.Template `yaml:"region"`
	Instance          ref.Template `yaml:"instance"`
	CredentialsSecret ref.Template `yaml:"credentials-secret"`
	Conn              ref.Template `yaml:"conn"`
	Password          ref.Template `yaml:"password"`
}

// dsn is a resolved server: libpq keywords without the password, and the password apart.
type dsn struct {
	Host, User, Password, Label string
	Port                        int
	conn                        string // a libpq string when given directly
	// Instance and ResourceID name the RDS instance (its identifier and DbiResourceId) when the
	// server is one, as DescribeDBInstances said when it was resolved.
	Instance, ResourceID string
	// CA is the RDS CA bundle an instance's connections verify against (awsstep.CABundle): they
	// carry the master password, so sslmode=verify-full and never cleartext password authentication.
	CA string
}

func (s Server) describe(env *steps.Env) string {
	if !s.Instance.IsZero() {
		if d := env.Describe(s.Instance); d != "" {
			return "instance " + d
		}
	}
	if d := env.Describe(s.Conn); d != "" {
		return d
	}
	return "libpq environment"
}

func (s Server) resolve(ctx context.Context, env *steps.Env) (dsn, error) {
	var region, instance, secret, conn, password string
	for _, f := range []struct {
		to *string
		t  ref.Template
	}{{&region, s.Region}, {&instance, s.Instance}, {&secret, s.CredentialsSecret}, {&conn, s.Conn}, {&password, s.Password}} {
		if f.to == &password && secret != "" {
			break // the secret gives the password
		}
		x, err := env.OptionalText(f.t)
		if err != nil {
			return dsn{}, err
		}
		*f.to = x
	}
	d := dsn{conn: conn, Password: password, Label: s.describe(env)}
	if instance != "" || secret != "" {
		c, err := awsstep.NewClients(ctx, env, region)
		if err != nil {
			return d, err
		}
		if instance != "" {
			inst, ok, err := c.Instance(ctx, instance)
			if err != nil {
				return d, err
			}
			if !ok {
				return d, &instanceMissing{instance}
			}
			ep, err := awsstep.EndpointOf(inst)
			if err != nil {
				return d, err
			}
			d.Host, d.Port = ep.Host, ep.Port
			d.Instance, d.ResourceID = aws.ToString(inst.DBInstanceIdentifier), aws.ToString(inst.DbiResourceId)
			if d.CA, err = awsstep.CABundle(env); err != nil {
				return d, fmt.Errorf("instance %s: %w", instance, err)
			}
		}
		if secret != "" {
			cr, err := c.MasterCredentials(ctx, env, secret)
			if err != nil {
				return d, err
			}
			d.User, d.Password = cr.Username, cr.Password
		}
	}
	if d.Password != "" && env.Secrets != nil {
		env.Secrets(d.Password)
	}
	return d, nil
}

// connect opens a pgx connection to db ("" = the server's default).
func (d dsn) connect(ctx context.Context, db string) (*pgx.Conn, error) {
	cs := d.conn
	if d.CA != "" {
		cs = awsstep.MasterConnString(awsstep.Endpoint{Host: d.Host, Port: d.Port}, orDefault(db, "postgres"), d.CA)
	}
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", d.conn, err)
	}
	if d.Host != "" && d.CA == "" {
		cfg.Host, cfg.Port = d.Host, uint16(d.Port)
		cfg.Fallbacks = nil
	}
	if d.User != "" {
		cfg.User = d.User
	}
	if d.Password != "" {
		cfg.Password = d.Password
	}
	if db != "" {
		cfg.Database = db
	} else if d.Host != "" {
		cfg.Database = "postgres"
	}
	cfg.RuntimeParams["application_name"] = "cairn"
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s (database %s): %w", d.Label, orDefault(db, "default"), err)
	}
	return c, nil
}

// environ is the children's environment: libpq variables, the password only in PGPASSWORD.
func (d dsn) environ(base []string, db string) []string {
	out := make([]string, 0, len(base)+6)
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "PGPASSWORD", "PGDATABASE", "PGAPPNAME":
			continue
		case "PGHOST", "PGPORT", "PGHOSTADDR":
			if d.Host != "" {
				continue
			}
		case "PGSSLMODE", "PGSSLROOTCERT", "PGREQUIREAUTH":
			if d.CA != "" {
				continue
			}
		case "PGUSER":
			if d.User != "" {
				continue
			}
		}
		out = append(out, kv)
	}
	if d.Host != "" {
		out = append(out, "PGHOST="+d.Host, "PGPORT="+strconv.Itoa(d.Port))
	}
	if d.CA != "" {
		out = append(out, awsstep.MasterLibpqEnv(d.CA)...)
	}
	if d.User != "" {
		out = append(out, "PGUSER="+d.User)
	}
	if d.Password != "" {
		out = append(out, "PGPASSWORD="+d.Password)
	}
	out = append(out, "PGAPPNAME=cairn")
	if db != "" {
		out = append(out, "PGDATABASE="+db)
	}
	return out
}

// dbArg is the -d argument of a client tool: the connection string with dbname, or just dbname.
func (d dsn) dbArg(db string) string {
	return strings.TrimSpace(d.conn + " dbname=" + quoteConnValue(db))
}

func quoteConnValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// describesOn says whether a yes/no field reads as yes in a plan (ref.ParseBool; a value known
// only later reads as no).
func describesOn(env *steps.Env, t ref.Template) bool {
	b, _ := ref.ParseBool(env.Describe(t))
	return b
}

// instanceMissing is the error of a source or target whose instance does not exist (yet, or any
// more): a lift finds nothing to lift.
type instanceMissing struct{ id string }

func (e *instanceMissing) Error() string { return "instance " + e.id + " does not exist" }

// isInstanceMissing says whether err is, or wraps, an instanceMissing.
func isInstanceMissing(err error) bool {
	var m *instanceMissing
	return errors.As(err, &m)
}

// isAbsent says whether err means that what an earlier step makes is not there yet: the instance
// (instanceMissing), a database on it (SQLSTATE 3D000), a table (42P01) or another object (42704).
// It reads the server's error code, never its message.
func isAbsent(err error) bool {
	return isInstanceMissing(err) || hasSQLState(err, "3D000", "42P01", "42704")
}

// hasSQLState says whether err is, or wraps, a server error with one of codes.
func hasSQLState(err error, codes ...string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && slices.Contains(codes, pe.Code)
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// databases lists the databases to move: connectable, not templates, not RDS's own.
func databases(ctx context.Context, c *pgx.Conn) ([]string, error) {
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate
		AND datname NOT IN ('rdsadmin', 'postgres') ORDER BY datname`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

var versionRE = regexp.MustCompile(`(\d+)(?:\.(\d+))?`)

// toolMajor runs `tool --version` and returns its major version.
func toolMajor(tool string) (int, error) {
	out, err := exec.Command(tool, "--version").Output()
	if err != nil {
		return 0, fmt.Errorf("%s not found or not runnable: %v", tool, err)
	}
	m := versionRE.FindStringSubmatch(string(out))
	if m == nil {
		return 0, fmt.Errorf("%s --version said %q", tool, strings.TrimSpace(string(out)))
	}
	return strconv.Atoi(m[1])
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

func literal(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// unknownOr says CannotTell for values not known yet, else Blocked.
func unknownOr(err error, fix string) steps.Check {
	if errors.Is(err, ref.ErrUnknown) {
		return steps.CannotTell("%v", err)
	}
	if awsstep.CouldNotLook(err) { // AWS unreachable or not allowed: the check could not look
		c := steps.CannotTell("%v", err)
		c.Fix = steps.FixOr(err, fix)
		return c
	}
	return steps.BlockedBy(err.Error(), steps.FixOr(err, fix))
}

// only keeps the databases named in t (comma-separated; empty keeps all) and refuses unknown names.
func only(env *steps.Env, t ref.Template, dbs []string) ([]string, error) {
	s, err := env.OptionalText(t)
	if err != nil || strings.TrimSpace(s) == "" {
		return dbs, err
	}
	var out []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		found := false
		for _, d := range dbs {
			found = found || d == n
		}
		if !found {
			return nil, fmt.Errorf("database %s is not on the source (it has %s)", n, strings.Join(dbs, ", "))
		}
		out = append(out, n)
	}
	return out, nil
}

// exportSnapshot opens a connection to db in a REPEATABLE READ, READ ONLY transaction and exports
// its snapshot, for pg_dump and the copy workers to share; the snapshot lives as long as the
// connection (closing it ends the transaction).
func exportSnapshot(ctx context.Context, src dsn, db string) (*pgx.Conn, string, error) {
	c, err := src.connect(ctx, db)
	if err != nil {
		return nil, "", err
	}
	var snap string
	if _, err = c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY"); err == nil {
		err = c.QueryRow(ctx, "SELECT pg_export_snapshot()").Scan(&snap)
	}
	if err != nil {
		c.Close(context.WithoutCancel(ctx))
		return nil, "", fmt.Errorf("export a snapshot of %s: %w", db, err)
	}
	return c, snap, nil
}
