package sshsteps

import (
	"strings"
	"testing"
)

// selfLockout decides, from names and (once looked up) uids, whether the backup login is the
// engineer's own admin login; each refusal says why and names the fix.
func TestSelfLockout(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		admin, backup login
		defaulted     bool
		want          []string // nil: no refusal
	}{
		"root administers root":          {login{"root", -1}, login{"root", -1}, false, []string{"admin-user root is also the backup login (user=root)", "PermitRootLogin forced-commands-only", "locked out", "-p user=backup", "-p admin-user=<you>"}},
		"root by default (local name)":   {login{"root", -1}, login{"root", -1}, true, []string{"admin-user (empty, so your local user name root)", "locked out", "-p user=backup"}},
		"same non-root login":            {login{"ops", -1}, login{"ops", -1}, false, []string{"admin-user ops is also the backup login (user=ops)", "sudo rights", "-p user=backup"}},
		"same login named backup":        {login{"backup", 1001}, login{"backup", 1001}, false, []string{"is also the backup login (user=backup)", "-p user=<another name>"}},
		"a second name for uid 0":        {login{"toor", 0}, login{"root", 0}, false, []string{"admin-user toor has uid 0, the same account as the backup login (user=root)", "locked out", "-p user=backup"}},
		"a second name for a user's uid": {login{"ops2", 1002}, login{"ops", 1002}, false, []string{"has uid 1002, the same account as the backup login (user=ops)"}},
		"sudo login, root backs up":      {login{"ops", 1002}, login{"root", 0}, false, nil},
		"root administers, backup user":  {login{"root", 0}, login{"backup", 1001}, false, nil},
		"names differ, uids not known":   {login{"ops", -1}, login{"root", -1}, false, nil},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := selfLockout(c.admin, c.backup, c.defaulted)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused a separate admin login: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("not refused")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("the refusal lacks %q:\n%v", w, err)
				}
			}
		})
	}
}
