package sshsteps_test

import (
	"context"
	"os/user"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The preflight refuses, before anything changes, a run whose backup login is the engineer's own
// admin login — the case the fresh-login check after the sshd reload would only catch once the
// engineer is locked out — and lets a separate admin login through.
func TestBackupPreflightRefusesOwnLogin(t *testing.T) {
	t.Parallel()
	me, err := user.Current()
	must(t, err)
	for name, c := range map[string]struct {
		over func(s *roScene) map[string]string
		want func(s *roScene) []string // nil: ready
	}{
		"root administers root": {
			func(*roScene) map[string]string { return map[string]string{"admin-user": "root", "user": "root"} },
			func(*roScene) []string {
				return []string{"admin-user root is also the backup login (user=root)", "PermitRootLogin forced-commands-only", "-p user=backup"}
			},
		},
		"admin-user empty is your local name": {
			func(*roScene) map[string]string { return map[string]string{"admin-user": "", "user": me.Username} },
			func(*roScene) []string {
				return []string{"admin-user (empty, so your local user name " + me.Username + ") is also the backup login", "-p user=backup"}
			},
		},
		"the same sudo login": {
			func(s *roScene) map[string]string {
				return map[string]string{"admin-user": s.b.admin.Name, "user": s.b.admin.Name}
			},
			func(s *roScene) []string {
				return []string{"admin-user " + s.b.admin.Name + " is also the backup login", "sudo rights", "-p user=backup"}
			},
		},
		"your sudo login, root backs up": {func(*roScene) map[string]string { return nil }, nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newROScene(t)
			over := c.over(s)
			st := steptest.Decode(t, registry(), "ssh-backup-preflight", preflightYAML)
			env := steptest.Env(t, merge(s.params(), over))
			probe := s.probe(nil)
			before := probe(t)
			ch := st.Check(context.Background(), env)
			if c.want == nil {
				if ch.State != steps.Ready {
					t.Fatalf("want ready, got %s: %s", ch.State, ch.Reason)
				}
				return
			}
			if ch.State != steps.Blocked || ch.Fix == "" {
				t.Fatalf("want blocked with a fix, got %s: %s", ch.State, ch.Reason)
			}
			for _, w := range c.want(s) {
				if !strings.Contains(ch.Reason, w) {
					t.Errorf("the refusal lacks %q:\n%s", w, ch.Reason)
				}
			}
			if strings.Count(ch.Reason, "is also the backup login") != 1 {
				t.Errorf("said more than once:\n%s", ch.Reason)
			}
			if _, err := st.Apply(context.Background(), env); err == nil || !strings.Contains(err.Error(), "is also the backup login") {
				t.Fatalf("apply: want the refusal, got %v", err)
			}
			if after := probe(t); after != before {
				t.Fatalf("something changed:\n%s\n%s", before, after)
			}
		})
	}
}
