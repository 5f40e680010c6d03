package pgcluster_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

func requirePG(t *testing.T) {
	t.Helper()
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
}

func connect(t *testing.T, ctx context.Context, conninfo string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, conninfo)
	if err != nil {
		t.Fatalf("connect %s: %v", conninfo, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

func queryInt(t *testing.T, ctx context.Context, conninfo, sql string) int64 {
	t.Helper()
	conn, err := pgx.Connect(ctx, conninfo)
	if err != nil {
		t.Fatalf("connect %s: %v", conninfo, err)
	}
	defer conn.Close(ctx)
	var n int64
	if err := conn.QueryRow(ctx, sql).Scan(&n); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return n
}

// TestLifecycle runs a cluster through its whole life, made by initdb and from a template.
func TestLifecycle(t *testing.T) {
	requirePG(t)
	cache := testbed.TempDir(t)
	tests := []struct {
		name      string
		superuser string
		template  bool
	}{
		{name: "initdb", superuser: "admin"},
		{name: "template", template: true},
		{name: "template, other superuser falls back to initdb", superuser: "boss", template: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			o := pgcluster.Options{
				Dir: filepath.Join(testbed.TempDir(t), "c"), Superuser: tt.superuser,
				Settings: map[string]string{"fsync": "off", "application_name": "it's cairn"},
			}
			if tt.template {
				tmpl, err := pgcluster.TemplateDir(ctx, cache, 0)
				if err != nil {
					t.Fatal(err)
				}
				o.Template = tmpl
			}
			c, err := pgcluster.Init(ctx, o)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = c.Remove(context.Background()) })
			su := c.Superuser
			if want := tt.superuser; want != "" && su != want {
				t.Fatalf("Superuser = %q, want %q", su, want)
			}
			if c.Running() {
				t.Fatal("Running after Init, want stopped")
			}
			for range 2 { // Start is idempotent
				if err := c.Start(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if !c.Running() {
				t.Fatal("not Running after Start")
			}

			conn := connect(t, ctx, c.ConnString("postgres", su))
			var fsync, isSuper string
			if err := conn.QueryRow(ctx, "SELECT current_setting('fsync'), current_setting('is_superuser')").Scan(&fsync, &isSuper); err != nil {
				t.Fatal(err)
			}
			if fsync != "off" || isSuper != "on" {
				t.Fatalf("fsync=%s is_superuser=%s, want off and on", fsync, isSuper)
			}
			for _, sql := range []string{
				"CREATE ROLE app LOGIN PASSWORD 'p''w d'",
				"CREATE DATABASE appdb OWNER app",
			} {
				if _, err := conn.Exec(ctx, sql); err != nil {
					t.Fatalf("%s: %v", sql, err)
				}
			}
			tcp := c.TCPConnString("appdb", "app")
			if _, err := pgx.Connect(ctx, tcp); err == nil {
				t.Fatal("TCP connect without password succeeded, want scram failure")
			}
			appConn := connect(t, ctx, tcp+" password="+pgcluster.QuoteValue("p'w d"))
			if _, err := appConn.Exec(ctx, "CREATE TABLE kept AS SELECT 42 AS n"); err != nil {
				t.Fatal(err)
			}
			_ = appConn.Close(ctx)
			_ = conn.Close(ctx)

			for range 2 { // Stop is idempotent
				if err := c.Stop(ctx); err != nil {
					t.Fatal(err)
				}
			}
			if c.Running() {
				t.Fatal("Running after Stop")
			}
			again, err := pgcluster.Open(c.Dir)
			if err != nil {
				t.Fatal(err)
			}
			if *again != *c {
				t.Fatalf("Open = %+v, want %+v", again, c)
			}
			if err := again.Start(ctx); err != nil {
				t.Fatal(err)
			}
			if err := again.Restart(ctx); err != nil {
				t.Fatal(err)
			}
			if n := queryInt(t, ctx, again.ConnString("appdb", su), "SELECT n FROM kept"); n != 42 {
				t.Fatalf("kept.n = %d after restart, want 42", n)
			}
			if err := again.Remove(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(c.Dir); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("stat %s after Remove: %v, want not exist", c.Dir, err)
			}
		})
	}
}

// TestStartMovesOffTakenPort takes the picked port before Start; Start must move to a new one.
func TestStartMovesOffTakenPort(t *testing.T) {
	requirePG(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	tmpl, err := pgcluster.TemplateDir(ctx, testbed.TempDir(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := pgcluster.Init(ctx, pgcluster.Options{Dir: filepath.Join(testbed.TempDir(t), "c"), Template: tmpl})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Remove(context.Background()) })
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(c.Port))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	taken := c.Port
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Port == taken {
		t.Fatalf("Port still %d, the taken one", taken)
	}
	saved, err := pgcluster.Open(c.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Port != c.Port {
		t.Fatalf("cluster.json port %d, want %d", saved.Port, c.Port)
	}
	if n := queryInt(t, ctx, c.ConnString("postgres", "postgres"), "SELECT 1"); n != 1 {
		t.Fatalf("SELECT 1 = %d", n)
	}
}

func TestInitErrors(t *testing.T) {
	requirePG(t)
	long := "/var/tmp/" + strings.Repeat("x", 100)
	tests := []struct {
		name string
		o    pgcluster.Options
	}{
		{name: "no dir", o: pgcluster.Options{}},
		{name: "socket path too long", o: pgcluster.Options{Dir: long}},
		{name: "missing version", o: pgcluster.Options{Dir: "/var/tmp/nope", Version: 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := pgcluster.Init(context.Background(), tt.o); err == nil {
				t.Fatal("Init succeeded, want an error")
			}
		})
	}
}
