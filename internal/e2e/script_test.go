package e2e

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/rogpeppe/go-internal/testscript"
)

// Whole-CLI scenarios as scripts (testdata/script/*.txtar): the real binary on PATH, a private state
// directory, and — where a script says `pg` — libpq pointed at a throwaway cluster.
func TestScripts(t *testing.T) {
	bin := testbed.CairnBinary(t)
	pg := testbed.Postgres(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			env.Setenv("CAIRN_STATE_DIR", filepath.Join(env.WorkDir, "state"))
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("PGHOST", pg.SocketDir)
			env.Setenv("PGPORT", itoa(pg.Port))
			env.Setenv("PGUSER", pg.Superuser)
			env.Setenv("PGDATABASE", "postgres")
			env.Setenv("ROLE", testbed.UniqueName(t, "s"))
			return nil
		},
	})
}
