package pgbackrest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// The stock-setup matrix: the runbook end to end on the setups people have, not the test bed's
// tuned one — (a) Debian's postgresql.conf as the package ships it (listen_addresses left at its
// default, localhost), only port and socket directory set for the test; (b) a socket-only server
// (listen_addresses=”). Each run's refusal proof must list what it tried and what it skipped, a
// --start-fast backup must work as the backup user without pg_checkpoint, and the shipped proof
// script must fail when a path in is open.
func TestPgbackrestUserStockSetups(t *testing.T) {
	for _, c := range []struct {
		name  string
		world func(t *testing.T) *world
		want  []string // in the refusal proof's output
	}{
		{"debian-postgresql.conf", func(t *testing.T) *world {
			w := newWorld(t)
			stockConf(t, w)
			return w
		}, []string{"listen_addresses='localhost'", "refused by pg_hba: tcp 127.0.0.1:", "database 'template1'", "skipped TLS: ssl=off"}},
		{"socket-only", func(t *testing.T) *world {
			return newWorld(t, testbed.WithSettings(map[string]string{"listen_addresses": ""}))
		}, []string{"listen_addresses=''", "skipped TCP: listen_addresses is empty", "refused by pg_hba: socket "}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := c.world(t)
			out, code := w.cairn(append(append([]string{"run", "pgbackrest-user"}, w.params()...), "--yes", "--no-tui", "--on-failure", "abort")...)
			if code != 0 {
				t.Fatalf("run exit %d:\n%s", code, out)
			}
			proof := out // the proof's lines are what the user sees
			for _, want := range append(c.want, "refused: public.payroll (permission denied)", "refused: write into", "connection(s) tried") {
				if !strings.Contains(proof, want) {
					t.Errorf("refusal proof lacks %q", want)
				}
			}
			if strings.Contains(proof, "unexpected") || strings.Contains(proof, "CONNECTED") {
				t.Errorf("refusal proof found a problem")
			}
			if t.Failed() {
				t.Fatalf("run:\n%s", out)
			}
			var said []string
			for _, l := range strings.Split(proof, "\n") {
				if strings.Contains(l, "server:") || strings.Contains(l, "skipped") || strings.Contains(l, "tried") {
					said = append(said, strings.TrimSpace(l))
				}
			}
			t.Logf("refusal proof says:\n%s", strings.Join(said, "\n"))
			startFast(t, w)
			pathInFailsProof(t, w)
		})
	}
}

// stockConf replaces the cluster's postgresql.conf with Debian's as shipped, plus the two lines a
// second server on this host needs (port, socket directory), and restarts it.
func stockConf(t *testing.T, w *world) {
	t.Helper()
	sample, err := os.ReadFile(filepath.Join("/usr/share/postgresql", strconv.Itoa(w.pg.Version), "postgresql.conf.sample"))
	if err != nil {
		t.Fatalf("Debian's postgresql.conf.sample: %v", err)
	}
	conf := string(sample) + "\n# test only: where this throwaway server listens\nport = " + strconv.Itoa(w.pg.Port) +
		"\nunix_socket_directories = '" + w.pg.SocketDir + "'\n"
	path := filepath.Join(w.pg.DataDir, "postgresql.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("chown", w.pg.OSUser, path).CombinedOutput(); err != nil {
		t.Fatalf("chown: %v %s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := w.pg.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	var listen string
	if err := w.pg.Conn(t, "postgres", w.pg.Superuser).QueryRow(ctx, "SELECT current_setting('listen_addresses')").Scan(&listen); err != nil || listen != "localhost" {
		t.Fatalf("stock listen_addresses: %q %v", listen, err)
	}
}

// startFast: a --start-fast full backup as the backup user, whose role holds no pg_checkpoint,
// starts after an immediate checkpoint the server ran for pg_backup_start(fast => true).
func startFast(t *testing.T, w *world) {
	t.Helper()
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = $1 AND r.rolname = 'pg_checkpoint'", w.role); n != 0 {
		t.Fatalf("the backup role is a member of pg_checkpoint")
	}
	before := w.pg.QueryInt(t, "postgres", "SELECT checkpoints_req FROM pg_stat_bgwriter")
	out, err := w.asUser("pgbackrest", "--config="+w.config, "--stanza="+w.stanza, "--log-level-console=info", "--log-level-file=off", "--start-fast", "--type=full", "backup")
	if err != nil {
		t.Fatalf("--start-fast backup as %s: %v\n%s", w.osUser, err, out)
	}
	if !strings.Contains(out, "backup begins after the requested immediate checkpoint completes") {
		t.Errorf("the backup did not ask for an immediate checkpoint:\n%s", out)
	}
	if after := w.pg.QueryInt(t, "postgres", "SELECT checkpoints_req FROM pg_stat_bgwriter"); after <= before {
		t.Errorf("no requested checkpoint during the --start-fast backup (checkpoints_req %d → %d)", before, after)
	}
}

// pathInFailsProof runs the shipped refusal script with a path in opened on purpose (a trust line
// for the role's own socket into template1, first in pg_hba.conf): it must fail and say CONNECTED.
func pathInFailsProof(t *testing.T, w *world) {
	t.Helper()
	raw, err := os.ReadFile("../../runbooks/builtin/pgbackrest-user.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var rb struct {
		Steps []struct {
			ID   string `yaml:"id"`
			With struct {
				Argv []string `yaml:"argv"`
			} `yaml:"with"`
		} `yaml:"steps"`
	}
	if err := yaml.Unmarshal(raw, &rb); err != nil {
		t.Fatal(err)
	}
	var script string
	for _, s := range rb.Steps {
		if s.ID == "refusals" {
			script = s.With.Argv[2]
		}
	}
	if script == "" {
		t.Fatal("no refusals step")
	}
	hbaPath := filepath.Join(w.pg.DataDir, "pg_hba.conf")
	hba, err := os.ReadFile(hbaPath)
	if err != nil {
		t.Fatal(err)
	}
	open := "local template1 " + w.role + " trust\n" + string(hba)
	if err := os.WriteFile(hbaPath, []byte(open), 0o640); err != nil {
		t.Fatal(err)
	}
	w.pg.Exec(t, "postgres", "SELECT pg_reload_conf()")
	defer func() {
		_ = os.WriteFile(hbaPath, hba, 0o640)
		w.pg.Exec(t, "postgres", "SELECT pg_reload_conf()")
	}()
	out, err := w.asUser("sh", "-c", script, "sh", w.pg.SocketDir, strconv.Itoa(w.pg.Port), w.role, w.pg.DataDir)
	if err == nil || !strings.Contains(out, "CONNECTED: socket "+w.pg.SocketDir+" database 'template1'") {
		t.Fatalf("with template1 open to the role the proof did not fail (%v):\n%s", err, out)
	}
}
