package runbooks_test

import (
	"maps"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps/all"
)

// Values that would break out of where the built-in runbooks put them are refused when the
// parameters are resolved — by `cairn plan` and `cairn run` alike, before any step is checked —
// naming the parameter and what it must look like.
func TestHostileParameterValuesRefused(t *testing.T) {
	cat, err := runbooks.LoadCatalog(all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	dblink := map[string]string{"instance": "app-db", "secret": "remote-db", "grant-to": "app_rw", "ssl-root-cert": "/etc/ssl/rds-ca-bundle.pem"}
	pgbr := map[string]string{"stanza": "main"}
	tests := []struct {
		name, runbook string
		base          map[string]string
		set           map[string]string
		want          string // "" = accepted
	}{
		{"dblink ssl-root-cert ends the dollar quote", "dblink-secret", dblink, map[string]string{"ssl-root-cert": "/x$cairn_fn$; ALTER ROLE app_rw SUPERUSER; --"}, "parameter ssl-root-cert"},
		{"dblink ssl-root-cert with a quote", "dblink-secret", dblink, map[string]string{"ssl-root-cert": "/etc/ca'bundle.pem"}, "parameter ssl-root-cert"},
		{"dblink region ends the dollar quote", "dblink-secret", dblink, map[string]string{"region": "us-east-1$cairn_fn$"}, "parameter region"},
		{"dblink region with a quote", "dblink-secret", dblink, map[string]string{"region": "us-east-1'"}, "parameter region"},
		{"dblink legitimate region", "dblink-secret", dblink, map[string]string{"region": "eu-central-1"}, ""},
		{"pgbackrest repo-path adds a config key", "pgbackrest-user", pgbr, map[string]string{"repo-path": "/x\nrepo1-host=evil"}, "parameter repo-path: \"/x\\nrepo1-host=evil\" holds a line break"},
		{"pgbackrest repo-path with CR", "pgbackrest-user", pgbr, map[string]string{"repo-path": "/x\rrepo1-host=evil"}, "holds a line break"},
		{"pgbackrest config runs a command", "pgbackrest-user", pgbr, map[string]string{"config": "/etc/x.conf; touch /tmp/pwned"}, "parameter config"},
		{"pgbackrest config with $()", "pgbackrest-user", pgbr, map[string]string{"config": "/etc/$(id).conf"}, "parameter config"},
		{"pgbackrest config with %p", "pgbackrest-user", pgbr, map[string]string{"config": "/etc/%p.conf"}, "parameter config"},
		{"pgbackrest bin with a quote", "pgbackrest-user", pgbr, map[string]string{"pgbackrest-bin": "/opt/pg'br/pgbackrest"}, "parameter pgbackrest-bin"},
		{"pgbackrest relative config", "pgbackrest-user", pgbr, map[string]string{"config": "pgbackrest.conf"}, "parameter config"},
		{"pgbackrest stanza adds a section", "pgbackrest-user", pgbr, map[string]string{"stanza": "main\n[evil]"}, "parameter stanza"},
		{"pgbackrest terminal escape in conn", "pgbackrest-user", pgbr, map[string]string{"conn": "host=/tmp \x1b[2J"}, "control character U+001B"},
		{"pgbackrest paths with spaces", "pgbackrest-user", pgbr, map[string]string{"config": "/etc/pg backrest/pgbackrest.conf", "repo-path": "/srv/backup repo", "pgbackrest-bin": "/opt/pg br/bin/pgbackrest"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rb, err := cat.Get(tt.runbook)
			if err != nil {
				t.Fatal(err)
			}
			given := maps.Clone(tt.base)
			maps.Copy(given, tt.set)
			_, err = runbooks.Resolve(rb, given, runbooks.Sources{PlanOnly: true})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("refused a legitimate value: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("Resolve = %v, want a refusal with %q", err, tt.want)
			}
		})
	}
}

// A secret in a command's environment or stdin loads; in its argv it is refused (malformed_test.go).
func TestSecretInEnvLoads(t *testing.T) {
	y := "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: pw\n    secret: true\nsteps:\n  - id: a\n    kind: exec\n    title: A\n    with: {argv: [psql, -c, SELECT 1], env: {PGPASSWORD: \"${params.pw}\"}, stdin: \"${params.pw}\"}\n"
	if _, err := runbooks.Load("ok.yaml", []byte(y), all.Registry()); err != nil {
		t.Fatal(err)
	}
}

// A value of the wrong type is a problem in the runbook's words, at its line and column, and joins
// the other problems instead of hiding them; no Go type or struct name shows.
func TestTypeErrorsInRunbookTerms(t *testing.T) {
	head := "schema: 1\nname: t\ntitle: T\nparameters:\n  - name: wait\n    type: duration\n    default: 5m\n"
	step := func(extra string) string {
		return "  - id: a\n    kind: exec\n    title: A\n" + extra + "    with: {argv: [\"true\"]}\n"
	}
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"approvals", head + "steps:\n" + step("    approvals: two\n"), []string{`bad.yaml:12:16: approvals: want a whole number, got "two"`}},
		{"negative timeout", head + "steps:\n" + step("    timeout: -5m\n"), []string{`bad.yaml:12:14: timeout: want a duration of 0 or more (such as 10m), got "-5m"`}},
		{"bad timeout", head + "steps:\n" + step("    timeout: 5 minutes\n"), []string{`timeout: want a duration such as 90s, 10m or 1h30m, got "5 minutes"`}},
		{"wait interval without a unit", head + "steps:\n  - id: w\n    kind: wait\n    title: W\n    with: {command: {argv: [\"true\"]}, interval: 2}\n",
			[]string{`bad.yaml:12:49: step "w" (wait): interval: want a duration such as 2s, 90s or 10m (a number needs its unit), got "2"`}},
		{"destructive", head + "steps:\n" + step("    destructive: maybe\n"), []string{`bad.yaml:12:18: destructive: want true or false, got "maybe"`}},
		{"steps as a mapping", head + "steps: {a: 1}\n", []string{"steps: want a list, got a mapping"}},
		{"argv as text", head + "steps:\n  - id: a\n    kind: exec\n    title: A\n    with:\n      argv: 5\n", []string{`step "a" (exec): argv: want a list, got a number`}},
		{"negative duration parameter", strings.Replace(head, "default: 5m", "default: -5m", 1) + "steps:\n" + step(""), []string{`parameter "wait": default: "-5m" is a negative duration`}},
		{"joined with the others", head + "steps:\n" + step("    approvals: two\n    timeout: -1s\n") + "  - id: b\n    kind: nope\n    title: B\n", []string{
			"(3 problems)", `approvals: want a whole number, got "two"`, `timeout: want a duration of 0 or more`, `unknown kind "nope"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runbooks.Load("bad.yaml", []byte(tt.yaml), all.Registry())
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
			for _, goName := range []string{"Go struct", "Runbook.", "StepSpec", "unmarshal"} {
				if strings.Contains(err.Error(), goName) {
					t.Errorf("message speaks Go (%q):\n%s", goName, err)
				}
			}
		})
	}
}
