package testbed

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
)

// PG is a throwaway PostgreSQL cluster, running, removed when the test ends.
type PG struct {
	*pgcluster.Cluster
}

// PGOption changes how Postgres creates its cluster.
type PGOption func(*pgcluster.Options)

// WithSettings adds postgresql.conf settings (over the testbed's fsync=off and friends).
func WithSettings(settings map[string]string) PGOption {
	return func(o *pgcluster.Options) {
		for k, v := range settings {
			o.Settings[k] = v
		}
	}
}

// WithSuperuser names the bootstrap superuser (default "postgres"; another name runs initdb
// instead of copying the template, which is slower).
func WithSuperuser(name string) PGOption {
	return func(o *pgcluster.Options) { o.Superuser = name }
}

// WithVersion picks a PostgreSQL major version (default the newest installed).
func WithVersion(v int) PGOption {
	return func(o *pgcluster.Options) { o.Version = v }
}

// Postgres starts a throwaway cluster in a TempDir, copied from a cached initdb template, with
// durability off for speed. Cleanup stops and removes it, also when the test fails. It skips
// (fails under CI=true) when PostgreSQL's server binaries are missing.
func Postgres(t testing.TB, opts ...PGOption) *PG {
	t.Helper()
	Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	o := pgcluster.Options{
		Dir: filepath.Join(TempDir(t), "pg"),
		Settings: map[string]string{
			"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off",
		},
	}
	for _, opt := range opts {
		opt(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	tmpl, err := pgcluster.TemplateDir(ctx, filepath.Join(rootDir(), "cache"), o.Version) // kept across runs
	if err != nil {
		t.Fatalf("testbed postgres: %v", err)
	}
	o.Template = tmpl
	c, err := pgcluster.Init(ctx, o)
	if err != nil {
		t.Fatalf("testbed postgres: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := c.Remove(ctx); err != nil {
			t.Errorf("testbed postgres cleanup: %v", err)
		}
	})
	if err := c.Start(ctx); err != nil {
		t.Fatalf("testbed postgres: %v", err)
	}
	return &PG{Cluster: c}
}

// Conn connects to db as user over the socket (every role is trusted there); it is closed on
// cleanup.
func (p *PG) Conn(t testing.TB, db, user string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.ConnString(db, user))
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", db, user, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = conn.Close(ctx)
	})
	return conn
}

// Exec runs sql in db as the superuser on a fresh connection, failing the test on error.
// Without args several statements may be given at once.
func (p *PG) Exec(t testing.TB, db, sql string, args ...any) {
	t.Helper()
	p.with(t, db, func(ctx context.Context, conn *pgx.Conn) {
		if _, err := conn.Exec(ctx, sql, args...); err != nil {
			t.Fatalf("exec in %s: %v\n%s", db, err, sql)
		}
	})
}

// QueryInt runs a query that returns one integer (any integer type, or a count) in db as the
// superuser.
func (p *PG) QueryInt(t testing.TB, db, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	p.with(t, db, func(ctx context.Context, conn *pgx.Conn) {
		if err := conn.QueryRow(ctx, sql, args...).Scan(&n); err != nil {
			t.Fatalf("query in %s: %v\n%s", db, err, sql)
		}
	})
	return n
}

func (p *PG) with(t testing.TB, db string, f func(context.Context, *pgx.Conn)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, p.ConnString(db, p.Superuser))
	if err != nil {
		t.Fatalf("connect to %s as %s: %v", db, p.Superuser, err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	f(ctx, conn)
}
