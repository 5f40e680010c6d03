package pg_test

import (
	"context"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func TestRestartContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	c := testbed.Postgres(t)
	c.Exec(t, "postgres", "ALTER SYSTEM SET archive_mode = 'on'")
	c.Exec(t, "postgres", "SELECT pg_reload_conf()")
	s := steptest.Decode(t, reg(), "pg-restart", connYAML(c)+"allowed: \"true\"\n")
	steptest.Run(t, steptest.Case{
		Step: s, Env: steptest.Env(t, nil),
		NoLookAlike: "done is the running server's own pending_restart, read live: there is no artifact to plant",
		Probe: func(t testing.TB) string {
			conn := c.Conn(t, "postgres", c.Superuser)
			var s string
			_ = conn.QueryRow(context.Background(), "SELECT current_setting('archive_mode') || ' pending=' || (SELECT count(*) FROM pg_settings WHERE pending_restart)").Scan(&s)
			return s
		},
	})
}
