package pgbackrest_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/pgbackrest"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// stanzaConfig writes a pgBackRest configuration whose stanza main is the cluster pg, in the
// shared repository under dir.
func stanzaConfig(t *testing.T, dir, name string, pg *testbed.PG) string {
	t.Helper()
	cfg := filepath.Join(dir, name+".conf")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf("[global]\nrepo1-path=%s\nlock-path=%s\nlog-path=%s\nlog-level-file=off\n\n[main]\npg1-path=%s\npg1-socket-path=%s\npg1-port=%d\npg1-user=%s\n",
		filepath.Join(dir, "repo"), filepath.Join(dir, "lock"), filepath.Join(dir, "log"), pg.DataDir, pg.SocketDir, pg.Port, pg.Superuser)), 0o644))
	return cfg
}

// systemIDOf is the cluster's system identifier as PostgreSQL itself reports it.
func systemIDOf(t testing.TB, pg *testbed.PG) string {
	return fmt.Sprint(pg.QueryInt(t, "postgres", "SELECT system_identifier FROM pg_control_system()"))
}

// The pgbackrest kind (stanza-create) passes the contract on a real cluster and repository, judged
// by the repository's own files (backup.info and archive.info, read here, not through pgBackRest);
// a stanza main made in the same repository for another cluster is not taken for this one's.
func TestStanzaCreateContract(t *testing.T) {
	testbed.RequireRoot(t, "")
	testbed.Require(t, "pgBackRest", func() error { _, err := exec.LookPath("pgbackrest"); return err })
	dir := testbed.TempDir(t)
	for _, d := range []string{"repo", "lock", "log"} {
		must(t, os.MkdirAll(filepath.Join(dir, d), 0o750))
		must(t, exec.Command("chown", "postgres:postgres", filepath.Join(dir, d)).Run())
	}
	// The other cluster runs initdb afresh (another superuser than the cached template's): clusters
	// copied from one template share its system identifier, as a cluster and its clone do.
	pg, other := testbed.Postgres(t), testbed.Postgres(t, testbed.WithSuperuser("cairn_other"))
	if systemIDOf(t, pg) == systemIDOf(t, other) {
		t.Fatalf("the two clusters share system id %s: the look-alike would be this cluster's stanza", systemIDOf(t, pg))
	}
	cfg, otherCfg := stanzaConfig(t, dir, "this", pg), stanzaConfig(t, dir, "other", other)
	stanzaDirs := []string{filepath.Join(dir, "repo", "backup", "main"), filepath.Join(dir, "repo", "archive", "main")}
	probe := func(t testing.TB) string {
		var out []string
		for _, d := range stanzaDirs {
			b, err := os.ReadFile(filepath.Join(d, filepath.Base(filepath.Dir(d))+".info"))
			if err != nil {
				out = append(out, d+": absent")
				continue
			}
			id := "?"
			for _, l := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(l, "db-system-id="); ok {
					id = v
				}
			}
			out = append(out, d+": system id "+id)
		}
		return strings.Join(out, "\n")
	}
	r := steps.NewRegistry()
	pgbackrest.Register(r)
	st := steptest.Decode(t, r, "pgbackrest", "config: ${params.config}\nstanza: main\ncommand: stanza-create\nuser: postgres\n")
	env := steptest.Env(t, map[string]string{"config": cfg})
	steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe,
		LookAlike: &steptest.LookAlike{
			What: "stanza main in the same repository, created for another cluster",
			Plant: func(t testing.TB) {
				if out, err := exec.Command("runuser", "-u", "postgres", "--", "pgbackrest", "--config="+otherCfg, "--stanza=main", "stanza-create").CombinedOutput(); err != nil {
					t.Fatalf("stanza-create for the other cluster: %v\n%s", err, out)
				}
			},
			There: func(t testing.TB) bool {
				want := systemIDOf(t, other)
				return probe(t) == stanzaDirs[0]+": system id "+want+"\n"+stanzaDirs[1]+": system id "+want
			},
			Remove: func(t testing.TB) {
				for _, d := range stanzaDirs {
					must(t, os.RemoveAll(d))
				}
			},
		},
		Tamper: func(t testing.TB) {
			want := systemIDOf(t, pg)
			if got := probe(t); got != stanzaDirs[0]+": system id "+want+"\n"+stanzaDirs[1]+": system id "+want {
				t.Fatalf("after apply, the repository holds:\n%s\nwant this cluster's system id %s", got, want)
			}
			for _, d := range stanzaDirs {
				must(t, os.RemoveAll(d))
			}
		},
	})
}
