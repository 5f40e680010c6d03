package pg

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// Conn is how a step reaches a database.
type Conn struct {
	// Conn is a libpq connection string or URI, without a password; empty means libpq's environment.
	Conn ref.Template `yaml:"conn"`
	// Database overrides the database of Conn.
	Database ref.Template `yaml:"database"`
	// Password is a reference to a secret; it is handed to the driver, never put in a string.
	Password ref.Template `yaml:"password"`
}

// Connect opens a connection for env.
func (c Conn) Connect(ctx context.Context, env *steps.Env) (*pgx.Conn, error) {
	cs, err := env.Text(c.Conn)
	if err != nil {
		return nil, err
	}
	if strings.Contains(strings.ToLower(cs), "password") {
		return nil, fmt.Errorf("connection string must not hold a password: use libpq's .pgpass or a secret parameter bound to `password`")
	}
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		return nil, fmt.Errorf("connection %q: %w", cs, err)
	}
	if !c.Database.IsZero() {
		db, err := env.Text(c.Database)
		if err != nil {
			return nil, err
		}
		cfg.Database = db
	}
	if !c.Password.IsZero() {
		pw, err := env.Text(c.Password)
		if err != nil {
			return nil, err
		}
		cfg.Password = pw
	}
	cfg.RuntimeParams["application_name"] = "cairn"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", c.Describe(env), err)
	}
	return conn, nil
}

// Describe says where the step connects, for plans and messages.
func (c Conn) Describe(env *steps.Env) string {
	s := env.Describe(c.Conn)
	if s == "" {
		s = "libpq environment"
		if h := env.Env("PGHOST"); h != "" {
			s += " (host=" + h
			if p := env.Env("PGPORT"); p != "" {
				s += " port=" + p
			}
			s += ")"
		}
	}
	if !c.Database.IsZero() {
		s += " dbname=" + env.Describe(c.Database)
	}
	return s
}

// QueryBool runs a query that returns one boolean.
func QueryBool(ctx context.Context, conn *pgx.Conn, env *steps.Env, q ref.Template) (bool, error) {
	sql, args, err := env.SQL(q)
	if err != nil {
		return false, err
	}
	var b bool
	if err := conn.QueryRow(ctx, sql, args...).Scan(&b); err != nil {
		return false, fmt.Errorf("query %s: %w", firstLine(q.Raw), err)
	}
	return b, nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	return s
}

// show reads one setting.
func show(ctx context.Context, conn *pgx.Conn, name string) (string, error) {
	var v string
	err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}
