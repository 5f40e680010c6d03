package pg_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func TestSettingsContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	c := testbed.Postgres(t)
	auto := filepath.Join(c.DataDir, "postgresql.auto.conf")
	c.Exec(t, "postgres", "ALTER SYSTEM SET log_min_duration_statement = '1000'")
	s := steptest.Decode(t, reg(), "pg-settings", connYAML(c)+"set:\n  log_min_duration_statement: \"250\"\n  archive_command: \"/bin/true %p\"\n")
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		LookAlike: &steptest.LookAlike{
			What: "the runbook's values in postgresql.auto.conf, written there but never loaded by the server",
			Plant: func(t testing.TB) {
				c.Exec(t, "postgres", "ALTER SYSTEM SET log_min_duration_statement = '250'")
				c.Exec(t, "postgres", "ALTER SYSTEM SET archive_command = '/bin/true %p'")
			},
			There: func(t testing.TB) bool {
				b, _ := os.ReadFile(auto)
				return strings.Contains(string(b), "\nlog_min_duration_statement = '250'\n") && strings.Contains(string(b), "\narchive_command = '/bin/true %p'\n")
			},
			Remove: func(t testing.TB) {
				c.Exec(t, "postgres", "ALTER SYSTEM SET log_min_duration_statement = '1000'")
				c.Exec(t, "postgres", "ALTER SYSTEM RESET archive_command")
			},
		},
		Probe: func(t testing.TB) string {
			b, _ := os.ReadFile(auto)
			return string(b)
		},
		Tamper: func(t testing.TB) { c.Exec(t, "postgres", "ALTER SYSTEM RESET archive_command") },
	})
}
