package testbed

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z][a-z0-9_]{0,29}$`)
	tests := []struct {
		prefix     string
		wantPrefix string
	}{
		{"app", "app"},
		{"App-DB.x", "app_db_x"},
		{"", "x"},
		{"9lives", "x9lives"},
		{strings.Repeat("long", 20), strings.Repeat("long", 6)},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			a, b := UniqueName(t, tt.prefix), UniqueName(t, tt.prefix)
			for _, n := range []string{a, b} {
				if !valid.MatchString(n) || !strings.HasPrefix(n, tt.wantPrefix) {
					t.Errorf("UniqueName(%q) = %q, want %q + 6 of [a-z0-9], <= 30", tt.prefix, n, tt.wantPrefix)
				}
			}
			if a == b {
				t.Errorf("two calls gave %q", a)
			}
		})
	}
}

func TestTempDir(t *testing.T) {
	var dir string
	t.Run("inner", func(t *testing.T) {
		dir = TempDir(t)
		for d := dir; d != "/"; d = filepath.Dir(d) {
			fi, err := os.Stat(d)
			if err != nil {
				t.Fatal(err)
			}
			if d != "/var/tmp" && fi.Mode().Perm() != 0o755 {
				t.Errorf("%s mode %v, want 0755", d, fi.Mode().Perm())
			}
		}
	})
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after cleanup: %v", dir, err)
	}
}

func TestSweepRemovesDeadProcessDirs(t *testing.T) {
	parent := TempDir(t)
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	dead := filepath.Join(parent, strings.Join([]string{itoa(cmd.Process.Pid), "x", "y"}, "-"))
	live := filepath.Join(parent, itoa(os.Getpid())+"-mine")
	other := filepath.Join(parent, "cache")
	for _, d := range []string{dead, live, other} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sweep(parent)
	tests := []struct {
		dir  string
		kept bool
	}{{dead, false}, {live, true}, {other, true}}
	for _, tt := range tests {
		_, err := os.Stat(tt.dir)
		if kept := err == nil; kept != tt.kept {
			t.Errorf("%s kept = %v, want %v", filepath.Base(tt.dir), kept, tt.kept)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestRequire(t *testing.T) {
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing skips", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Require(t, "thing", func() error { return os.ErrNotExist })
	})
	if !skipped {
		t.Error("Require with a failing probe did not skip")
	}
	t.Run("present runs", func(t *testing.T) {
		Require(t, "thing", func() error { return nil })
	})
}

func TestGoBuild(t *testing.T) {
	out := filepath.Join(TempDir(t), "hello")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := goBuild(ctx, ".", "./testdata/hello", out); err != nil {
		t.Fatal(err)
	}
	got, err := exec.Command(out).Output()
	if err != nil || strings.TrimSpace(string(got)) != "hello from testbed" {
		t.Fatalf("hello printed %q, %v", got, err)
	}
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("moduleRoot %s: %v", root, err)
	}
}

func TestPostgres(t *testing.T) {
	pg := Postgres(t, WithSettings(map[string]string{"work_mem": "8MB"}))
	db := UniqueName(t, "db")
	pg.Exec(t, "postgres", "CREATE DATABASE "+db)
	pg.Exec(t, db, "CREATE TABLE t (n int); INSERT INTO t VALUES (1), (2)")
	pg.Exec(t, db, "INSERT INTO t VALUES ($1)", 3)
	if n := pg.QueryInt(t, db, "SELECT sum(n) FROM t WHERE n > $1", 0); n != 6 {
		t.Errorf("sum = %d, want 6", n)
	}
	var workMem string
	if err := pg.Conn(t, db, "postgres").QueryRow(context.Background(), "SHOW work_mem").Scan(&workMem); err != nil {
		t.Fatal(err)
	}
	if workMem != "8MB" {
		t.Errorf("work_mem = %s, want 8MB", workMem)
	}
}

func TestOSUser(t *testing.T) {
	u := OSUser(t, "tb", "postgres")
	fi, err := os.Stat(u.Home)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		t.Errorf("home %s mode %v is group/world-writable", u.Home, fi.Mode().Perm())
	}
	out, err := exec.Command("id", "-nG", u.Name).Output()
	if err != nil || !strings.Contains(string(out), "postgres") {
		t.Errorf("id -nG %s = %q, %v; want postgres among them", u.Name, out, err)
	}
	shadow, err := exec.Command("getent", "shadow", u.Name).Output()
	if err != nil || !strings.HasPrefix(string(shadow), u.Name+":*:") {
		t.Errorf("shadow entry %q, %v; want password field *", shadow, err)
	}
	if u.UID == 0 || u.GID == 0 {
		t.Errorf("UID/GID = %d/%d", u.UID, u.GID)
	}
}
