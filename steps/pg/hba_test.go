package pg_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func loadTime(t testing.TB, c *testbed.PG) string {
	var s string
	conn := c.Conn(t, "postgres", c.Superuser)
	if err := conn.QueryRow(context.Background(), "SELECT pg_conf_load_time()::text").Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestHBAContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	c := testbed.Postgres(t)
	role := testbed.UniqueName(t, "hba")
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	s := steptest.Decode(t, reg(), "pg-hba", connYAML(c)+fmt.Sprintf(`lines:
  - local postgres %[1]s scram-sha-256
  - local all %[1]s reject
  - host all %[1]s 0.0.0.0/0 reject
`, role))
	orig, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	late := string(orig) + fmt.Sprintf("local postgres %[1]s scram-sha-256\nlocal all %[1]s reject\nhost all %[1]s 0.0.0.0/0 reject\n", role)
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "the same lines at the end of pg_hba.conf, after the lines of their type that win",
			Plant: func(t testing.TB) {
				must(t, os.WriteFile(hba, []byte(late), 0o600))
				c.Exec(t, "postgres", "SELECT pg_reload_conf()")
			},
			There: func(t testing.TB) bool {
				b, _ := os.ReadFile(hba)
				return strings.HasSuffix(string(b), late[len(orig):]) && strings.Count(string(b), "local all "+role+" reject") == 1
			},
			Remove: func(t testing.TB) {
				must(t, os.WriteFile(hba, orig, 0o600))
				c.Exec(t, "postgres", "SELECT pg_reload_conf()")
			},
		},
		Probe: func(t testing.TB) string {
			b, _ := os.ReadFile(hba)
			fi, _ := os.Stat(hba)
			st := fi.Sys().(*syscall.Stat_t)
			var rules string
			conn := c.Conn(t, "postgres", c.Superuser)
			// what the server has loaded: a connection attempt would show it; the file rules show what it will load
			_ = conn.QueryRow(context.Background(), "SELECT string_agg(type || ' ' || array_to_string(database, ',') || ' ' || array_to_string(user_name, ',') || ' ' || auth_method, '; ' ORDER BY line_number) FROM pg_hba_file_rules").Scan(&rules)
			return fmt.Sprintf("%o %d:%d\n%s\n%s", fi.Mode().Perm(), st.Uid, st.Gid, b, rules)
		},
		Tamper: func(t testing.TB) {
			b, _ := os.ReadFile(hba)
			lines := strings.Split(string(b), "\n")
			// move our first local line below the trust line: order matters
			var out []string
			var moved string
			for _, l := range lines {
				if strings.HasPrefix(l, "local postgres "+role) {
					moved = l
					continue
				}
				out = append(out, l)
				if strings.HasPrefix(l, "local all all trust") {
					out = append(out, moved)
				}
			}
			if err := os.WriteFile(hba, []byte(strings.Join(out, "\n")), 0o600); err != nil {
				t.Fatal(err)
			}
		},
	})
	// The placement: before the first local / host line.
	b, _ := os.ReadFile(hba)
	if !strings.Contains(string(b), "local all "+role+" reject\nlocal all all trust") || !strings.Contains(string(b), "host all "+role+" 0.0.0.0/0 reject\nhost all all 127.0.0.1/32") {
		t.Fatalf("lines not before their type's first line:\n%s", b)
	}
}

func TestHBAInvalidRestoredNothingReloaded(t *testing.T) {
	testbed.RequireRoot(t, "")
	c := testbed.Postgres(t)
	hba := filepath.Join(c.DataDir, "pg_hba.conf")
	orig, _ := os.ReadFile(hba)
	loaded := loadTime(t, c)
	time.Sleep(10 * time.Millisecond)
	s := steptest.Decode(t, reg(), "pg-hba", connYAML(c)+"lines: [\"local all someone no-such-method\"]\n")
	env := steptest.Env(t, nil)
	_, err := s.Apply(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "invalid") || !strings.Contains(err.Error(), "restored") {
		t.Fatalf("apply of an invalid line: %v", err)
	}
	if now, _ := os.ReadFile(hba); string(now) != string(orig) {
		t.Fatalf("file not restored:\n%s", now)
	}
	if lt := loadTime(t, c); lt != loaded {
		t.Fatalf("the server reloaded: %s → %s", loaded, lt)
	}
}
