package pg_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/pg"
)

func reg() *steps.Registry {
	r := steps.NewRegistry()
	pg.Register(r)
	return r
}

func connYAML(c *testbed.PG) string {
	return fmt.Sprintf("conn: \"host=%s port=%d user=%s dbname=postgres\"\n", c.SocketDir, c.Port, c.Superuser)
}

func writePgpass(t testing.TB, dir, role string) string {
	p := filepath.Join(dir, ".pgpass")
	if err := os.WriteFile(p, []byte("*:*:postgres:"+role+":S3cret-pw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func runPsql(connStr, pgpass string) (string, error) {
	cmd := exec.Command("psql", "-X", "-At", connStr, "-c", "SELECT current_user")
	cmd.Env = append(os.Environ(), "PGPASSFILE="+pgpass)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
