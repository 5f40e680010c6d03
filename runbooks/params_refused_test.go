package runbooks_test

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps/all"
)

// rds-encrypt's jobs and dump-dir are refused at intake when they cannot work — fewer than one
// job; a dump-dir that is relative (a resume from another directory would look elsewhere), the
// root, a system or a shared directory — naming the fix. A good value is accepted.
func TestRDSEncryptRefusesUnworkableJobsAndDumpDir(t *testing.T) {
	cat, err := runbooks.LoadCatalog(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	rb, err := cat.Get("rds-encrypt")
	if err != nil {
		t.Fatal(err)
	}
	base := map[string]string{"instance": "app-db", "kms-key": "alias/cairn-demo", "credentials-secret": "cairn/app-db/master"}
	for _, c := range []struct{ name, value, want string }{
		{"jobs", "-3", "parameter jobs: -3 is less than 1: give -p jobs=1 or more"},
		{"jobs", "0", "parameter jobs: 0 is less than 1"},
		{"jobs", "4", ""},
		{"dump-dir", "/", `parameter dump-dir: "/" is a directory others keep files in`},
		{"dump-dir", "/etc", `parameter dump-dir: "/etc" is in the system directory /etc`},
		{"dump-dir", "/etc/cairn/../", `"/etc/cairn/../" is in the system directory /etc`},
		{"dump-dir", "/var/tmp", "is a directory others keep files in"},
		{"dump-dir", "relative/dir", `parameter dump-dir: "relative/dir" is not an absolute path`},
		{"dump-dir", "/var/tmp/cairn-dump", ""},
	} {
		given := map[string]string{c.name: c.value}
		for k, v := range base {
			given[k] = v
		}
		_, err := runbooks.Resolve(rb, given, runbooks.Sources{PlanOnly: true})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("-p %s=%s refused: %v", c.name, c.value, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "-p "+c.name+"=")):
			t.Errorf("-p %s=%s: want %q with the fix, got %v", c.name, c.value, c.want, err)
		}
	}
	// A bad instance is the one problem: the defaults made of it (target, dump-dir) add nothing.
	_, err = runbooks.Resolve(rb, map[string]string{"instance": "app db", "kms-key": "alias/cairn-demo"}, runbooks.Sources{PlanOnly: true})
	if err == nil || !strings.Contains(err.Error(), "parameter instance:") || strings.Contains(err.Error(), "no such value") || strings.Contains(err.Error(), "target") {
		t.Errorf("instance=\"app db\": want only the instance's problem, got %v", err)
	}
}
