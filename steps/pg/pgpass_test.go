package pg_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func TestPgpassContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	u := testbed.OSUser(t, "pgpass")
	file := filepath.Join(u.Home, ".pgpass")
	s := steptest.Decode(t, reg(), "pgpass", fmt.Sprintf("user: %s\nport: \"5432\"\ndatabase: postgres\nrole: backrest\n", u.Name))
	wildcard := "*:*:*:backrest:an-older-password\n"
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "a line for role backrest on any host, port and database, with another password (libpq reads the first match)",
			Plant: func(t testing.TB) {
				must(t, os.WriteFile(file, []byte(wildcard), 0o600))
				must(t, os.Chown(file, u.UID, u.GID))
			},
			There: func(t testing.TB) bool {
				b, err := os.ReadFile(file)
				return err == nil && string(b) == wildcard
			},
			Remove: func(t testing.TB) { must(t, os.Remove(file)) },
		},
		Probe: func(t testing.TB) string {
			b, err := os.ReadFile(file)
			if err != nil {
				return "absent"
			}
			fi, _ := os.Stat(file)
			st := fi.Sys().(*syscall.Stat_t)
			lines := strings.Split(strings.TrimSpace(string(b)), "\n")
			var keys []string
			for _, l := range lines {
				f := strings.SplitN(l, ":", 5)
				keys = append(keys, strings.Join(f[:4], ":")+fmt.Sprintf(" pwlen=%d", len(f[4])))
			}
			return fmt.Sprintf("%o %d %s", fi.Mode().Perm(), st.Uid, strings.Join(keys, ","))
		},
		Tamper: func(t testing.TB) { _ = os.Chmod(file, 0o644) },
	})
}

// An earlier line libpq would read instead of cairn's entry blocks the step: appending beside it
// would leave the entry unread.
func TestPgpassRefusesAShadowingLine(t *testing.T) {
	testbed.RequireRoot(t, "")
	u := testbed.OSUser(t, "pgpass")
	file := filepath.Join(u.Home, ".pgpass")
	shadow := "localhost:*:postgres:backrest:an-older-password\n"
	must(t, os.WriteFile(file, []byte(shadow), 0o600))
	must(t, os.Chown(file, u.UID, u.GID))
	s := steptest.Decode(t, reg(), "pgpass", fmt.Sprintf("user: %s\nhost: localhost\nport: \"5432\"\ndatabase: postgres\nrole: backrest\n", u.Name))
	env := steptest.Env(t, nil)
	if ch := s.Check(context.Background(), env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "line 1") || ch.Fix == "" {
		t.Fatalf("want blocked naming line 1 with a fix, got %s: %s", ch.State, ch.Reason)
	}
	if _, err := s.Apply(context.Background(), env); err == nil {
		t.Fatal("apply appended an entry libpq would never read")
	}
	if b, _ := os.ReadFile(file); string(b) != shadow {
		t.Fatalf("the file changed: %q", b)
	}
}
