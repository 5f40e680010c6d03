package pgbackrest_test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// world is one pgbackrest-user scenario: a throwaway cluster, unique names, a private
// configuration, repository and pgBackRest paths, and the real cairn binary.
type world struct {
	t                       *testing.T
	pg                      *testbed.PG
	bin, state, dir         string
	osUser, role, stanza    string
	config, repo, lock, log string
	spool, home             string
	env                     []string
}

func newWorld(t *testing.T, opts ...testbed.PGOption) *world {
	t.Helper()
	testbed.RequireRoot(t, "")
	testbed.Require(t, "pgBackRest", func() error { _, err := exec.LookPath("pgbackrest"); return err })
	w := &world{t: t, bin: testbed.CairnBinary(t), dir: testbed.TempDir(t)}
	w.pg = testbed.Postgres(t, opts...)
	w.state = filepath.Join(w.dir, "state")
	w.osUser = testbed.UniqueName(t, "pgbr")
	w.role = testbed.UniqueName(t, "backrest")
	w.stanza = "main"
	// The configuration and the repository have spaces in their paths: archive_command (run by
	// /bin/sh) must quote them, and pgbackrest check proves WAL archiving works through it.
	w.config = filepath.Join(w.dir, "etc", "pg backrest", "pgbackrest.conf")
	w.repo = filepath.Join(w.dir, "backup repo")
	w.lock = filepath.Join(w.dir, "lock")
	w.log = filepath.Join(w.dir, "log")
	w.spool = filepath.Join(w.dir, "spool")
	w.home = filepath.Join(w.dir, "home", w.osUser)
	w.env = append(os.Environ(), "CAIRN_STATE_DIR="+w.state,
		"PGHOST="+w.pg.SocketDir, "PGPORT="+strconv.Itoa(w.pg.Port), "PGUSER="+w.pg.Superuser, "PGDATABASE=postgres")
	t.Cleanup(func() {
		_ = exec.Command("userdel", "--remove", w.osUser).Run()
	})
	// A user table the backup role must not read.
	w.pg.Exec(t, "postgres", "CREATE TABLE payroll (name text, salary int); INSERT INTO payroll VALUES ('a', 1)")
	return w
}

func (w *world) params(extra ...string) []string {
	ps := []string{"stanza=" + w.stanza, "os-user=" + w.osUser, "os-user-home=" + w.home, "db-role=" + w.role,
		"config=" + w.config, "repo-path=" + w.repo, "lock-path=" + w.lock, "log-path=" + w.log, "spool-path=" + w.spool,
		"retention-full=1", "restart=true"}
	ps = append(ps, extra...)
	var out []string
	for _, p := range ps {
		out = append(out, "-p", p)
	}
	return out
}

func (w *world) cairn(args ...string) (string, int) {
	w.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), ee.ExitCode()
	} else if err != nil {
		w.t.Fatalf("cairn %v: %v", args, err)
	}
	return out.String(), 0
}

func (w *world) lastRun() string {
	w.t.Helper()
	ids, err := journal.List(w.state)
	if err != nil || len(ids) == 0 {
		w.t.Fatalf("no run in %s: %v", w.state, err)
	}
	sort.Strings(ids)
	return ids[len(ids)-1]
}

// snapshot is the system as an independent probe sees it: modes and owners of the data directory
// tree (and its parents) and of the pgBackRest paths, pg_hba.conf, the role, the settings, the OS user.
func (w *world) snapshot() string {
	w.t.Helper()
	var b strings.Builder
	var tree []string
	_ = filepath.WalkDir(w.pg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(w.pg.DataDir, p)
		if strings.HasPrefix(rel, "pg_wal") || strings.HasPrefix(rel, "pg_stat") || strings.HasPrefix(rel, "pg_xact") ||
			strings.HasPrefix(rel, "pg_subtrans") || strings.HasPrefix(rel, "pg_logical") || strings.HasPrefix(rel, "pg_multixact") ||
			strings.HasPrefix(rel, "postmaster") || strings.HasPrefix(rel, "base") || strings.HasPrefix(rel, "global") ||
			rel == "postgresql.auto.conf" || rel == "pg_hba.conf" || strings.HasPrefix(rel, ".pg_hba") {
			if d.IsDir() && rel != "." && (rel == "pg_wal" || rel == "base" || rel == "global") {
				tree = append(tree, statLine(p, rel)) // the directory itself
			}
			if !d.IsDir() {
				return nil // contents change with the server's work; their group bits are counted below
			}
		}
		tree = append(tree, statLine(p, rel))
		return nil
	})
	sort.Strings(tree)
	b.WriteString(strings.Join(tree, "\n"))
	fmt.Fprintf(&b, "\ngroup-readable files in the data directory: %v", w.groupReadable())
	for _, p := range []string{filepath.Dir(w.pg.DataDir), w.repo, w.lock, w.log, w.spool, w.config, filepath.Dir(w.config), w.home} {
		b.WriteString("\n" + statLine(p, p))
	}
	hba, _ := os.ReadFile(filepath.Join(w.pg.DataDir, "pg_hba.conf"))
	b.WriteString("\npg_hba.conf:\n" + string(hba))
	auto, _ := os.ReadFile(filepath.Join(w.pg.DataDir, "postgresql.auto.conf"))
	b.WriteString("postgresql.auto.conf:\n" + string(auto))
	conn := w.pg.Conn(w.t, "postgres", w.pg.Superuser)
	var settings string
	if err := conn.QueryRow(context.Background(), `SELECT string_agg(name || '=' || setting, ' ' ORDER BY name) FROM pg_settings
		WHERE name IN ('archive_mode', 'archive_command', 'data_directory_mode')`).Scan(&settings); err != nil {
		w.t.Fatal(err)
	}
	var roles int
	_ = conn.QueryRow(context.Background(), "SELECT count(*) FROM pg_roles WHERE rolname = $1", w.role).Scan(&roles)
	_, uerr := user.Lookup(w.osUser)
	fmt.Fprintf(&b, "settings: %s\nrole %s exists: %v\nOS user %s exists: %v\n", settings, w.role, roles == 1, w.osUser, uerr == nil)
	return b.String()
}

func statLine(p, name string) string {
	fi, err := os.Lstat(p)
	if err != nil {
		return name + " absent"
	}
	st := fi.Sys().(*syscall.Stat_t)
	return fmt.Sprintf("%s %d:%d %04o", name, st.Uid, st.Gid, uint32(fi.Mode().Perm())|uint32(st.Mode&0o7000))
}

func (w *world) groupReadable() bool {
	found := false
	_ = filepath.WalkDir(w.pg.DataDir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || found || !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err == nil && fi.Mode().Perm()&0o040 != 0 {
			found = true
		}
		return nil
	})
	return found
}

// waitRollback waits for the rollback's own run.finished record (the CLI's watcher may return at
// the earlier run's record) and fails unless it says rolled-back.
func (w *world) waitRollback(id string) {
	w.t.Helper()
	run, err := journal.Open(w.state, id)
	if err != nil {
		w.t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		recs, _ := journal.ReadAll(run)
		var fins []events.Event
		for _, e := range recs {
			if e.Type == events.RunFinished {
				fins = append(fins, e)
			}
		}
		if len(fins) >= 2 {
			if s := fins[len(fins)-1].Status; s != "rolled-back" {
				var b strings.Builder
				for _, e := range recs {
					fmt.Fprintf(&b, "%s %s %s %s\n", e.Type, e.Step, e.Note, e.Status)
					if e.Error != nil {
						fmt.Fprintf(&b, "  %+v\n", *e.Error)
					}
				}
				w.t.Fatalf("rollback ended %s:\n%s", s, b.String())
			}
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	w.t.Fatalf("rollback did not finish in 2 minutes")
}

// asUser runs argv as the backup OS user.
func (w *world) asUser(argv ...string) (string, error) {
	out, err := exec.Command("runuser", append([]string{"-u", w.osUser, "--"}, argv...)...).CombinedOutput()
	return string(out), err
}

func TestPgbackrestUserRunbook(t *testing.T) {
	w := newWorld(t)
	before := w.snapshot()
	// pgBackRest through a path with a space too: archive_command quotes it for /bin/sh.
	binDir := filepath.Join(w.dir, "pg bin")
	real, err := exec.LookPath("pgbackrest")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, filepath.Join(binDir, "pgbackrest")); err != nil {
		t.Fatal(err)
	}
	bin := "pgbackrest-bin=" + filepath.Join(binDir, "pgbackrest")
	wantArchive := "'" + filepath.Join(binDir, "pgbackrest") + "' --config='" + w.config + "' --stanza=" + w.stanza + " archive-push %p"

	// The plan lists every command, mode and SQL statement.
	plan, code := w.cairn(append([]string{"plan", "pgbackrest-user"}, w.params(bin)...)...)
	if code != 0 {
		t.Fatalf("plan exit %d:\n%s", code, plan)
	}
	for _, want := range []string{"useradd --gid", "chmod 0750", "directories g+rx, files g+r, no g+w", "chmod 2770", "chmod 2750",
		"ALTER SYSTEM SET archive_mode = 'on'", "pg_backup_start(text, boolean)", "pg_create_restore_point(text)", "pg_switch_wal()",
		"GRANT \"pg_read_all_settings\" TO \"" + w.role + "\"", "local postgres " + w.role + " scram-sha-256", "host all " + w.role + " 0.0.0.0/0 reject",
		"pg_hba_file_rules WHERE error IS NOT NULL", "SELECT pg_reload_conf()", "pg_ctl restart", "stanza-create", "--type=full", "--repo1-retention-full=1",
		"expire-auto=n", "0640", "0600", "ALTER SYSTEM SET archive_command = '" + strings.ReplaceAll(wantArchive, "'", "''") + "'"} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan lacks %q", want)
		}
	}
	if t.Failed() {
		t.Fatalf("plan:\n%s", plan)
	}

	// The whole runbook.
	out, code := w.cairn(append(append([]string{"run", "pgbackrest-user"}, w.params(bin)...), "--yes", "--no-tui", "--on-failure", "abort")...)
	if code != 0 {
		t.Fatalf("run exit %d:\n%s", code, out)
	}
	runID := w.lastRun()
	t.Logf("run %s:\n%s", runID, out)

	// The server archived WAL through the quoted command (pgbackrest check switched a segment and
	// waited for it in the repository), and never failed to.
	var archiveCmd string
	var archived, failed int64
	c := w.pg.Conn(t, "postgres", w.pg.Superuser)
	if err := c.QueryRow(context.Background(), `SELECT current_setting('archive_command'), archived_count, failed_count FROM pg_stat_archiver`).Scan(&archiveCmd, &archived, &failed); err != nil {
		t.Fatal(err)
	}
	if archiveCmd != wantArchive || archived == 0 || failed != 0 {
		t.Errorf("archive_command %q (want %q): %d WAL files archived, %d failures", archiveCmd, wantArchive, archived, failed)
	}

	// Independent proofs, as the real OS user and role.
	if info, err := w.asUser("pgbackrest", "--config="+w.config, "--stanza="+w.stanza, "--log-level-file=off", "info"); err != nil ||
		!strings.Contains(info, "status: ok") || strings.Count(info, "full backup:") != 1 {
		t.Errorf("pgbackrest info as %s: %v\n%s", w.osUser, err, info)
	}
	if lg, _ := os.ReadFile(filepath.Join(w.log, w.stanza+"-expire.log")); !strings.Contains(string(lg), "expire full backup") {
		t.Errorf("expire log shows no expired full backup:\n%s", lg)
	}
	sock, port := w.pg.SocketDir, strconv.Itoa(w.pg.Port)
	if o, err := w.asUser("psql", "-X", "-At", "host="+sock+" port="+port+" dbname=postgres user="+w.role, "-c", "SELECT * FROM payroll"); err == nil || !strings.Contains(o, "permission denied for table payroll") {
		t.Errorf("role read payroll: %v %s", err, o)
	}
	for _, c := range []string{"host=" + sock + " port=" + port + " dbname=template1", "host=127.0.0.1 port=" + port + " dbname=template1 sslmode=disable", "host=127.0.0.1 port=" + port + " dbname=postgres sslmode=disable"} {
		if o, err := w.asUser("psql", "-X", "-At", c+" user="+w.role, "-c", "SELECT 1"); err == nil || !strings.Contains(o, "pg_hba.conf rejects connection") {
			t.Errorf("%s as %s: want refused by pg_hba, got %v %s", c, w.role, err, o)
		}
	}
	if o, err := w.asUser("touch", filepath.Join(w.pg.DataDir, "probe")); err == nil || !strings.Contains(o, "Permission denied") {
		t.Errorf("OS user wrote into the data directory: %v %s", err, o)
	}
	if o, err := w.asUser("cat", filepath.Join(w.pg.DataDir, "PG_VERSION")); err != nil {
		t.Errorf("OS user cannot read the data directory: %v %s", err, o)
	}

	// Re-running reports every step already done.
	again, code := w.cairn(append(append([]string{"run", "pgbackrest-user"}, w.params(bin)...), "--yes", "--no-tui", "--on-failure", "abort")...)
	if code != 0 {
		t.Fatalf("second run exit %d:\n%s", code, again)
	}
	for _, id := range []string{"preflight", "os-user", "archive-settings", "data-dir", "repo-paths", "config", "pgpass", "role", "hba", "grants",
		"restart", "data-dir-after-restart", "stanza-create", "check", "backup-full", "backup-second", "expire", "info", "refusals"} {
		if !strings.Contains(again, "["+id+"] done (already done before this run)") {
			t.Errorf("second run: step %s not reported already done", id)
		}
	}
	if strings.Contains(again, "applying") {
		t.Errorf("second run applied something:\n%s", again)
	}
	if t.Failed() {
		t.Fatalf("second run:\n%s", again)
	}

	// Roll everything back: the system as it was.
	out, code = w.cairn("rollback", runID, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("rollback exit %d:\n%s", code, out)
	}
	w.waitRollback(runID)
	if after := w.snapshot(); after != before {
		t.Fatalf("rollback did not restore the system:\n--- before\n%s\n--- after\n%s", before, after)
	}
}

// The runbook refuses before any change: pgBackRest missing, a configuration whose pg1-path is
// another cluster's data directory, a role name taken by a role with other privileges.
func TestPgbackrestUserRefusesBeforeAnyChange(t *testing.T) {
	w := newWorld(t)
	refuse := func(name, want string, extra ...string) {
		t.Helper()
		before := w.snapshot()
		out, code := w.cairn(append(append([]string{"run", "pgbackrest-user"}, w.params(extra...)...), "--yes", "--no-tui", "--on-failure", "abort")...)
		if code == 0 {
			t.Fatalf("%s: the run succeeded:\n%s", name, out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s: output does not say %q:\n%s", name, want, out)
		}
		if strings.Contains(out, "applying") {
			t.Errorf("%s: a step applied before the refusal:\n%s", name, out)
		}
		if after := w.snapshot(); after != before {
			t.Errorf("%s: the system changed:\n--- before\n%s\n--- after\n%s", name, before, after)
		}
	}

	refuse("pgBackRest missing", "pgBackRest is not installed", "pgbackrest-bin=/nonexistent/pgbackrest")

	other := testbed.Postgres(t)
	if err := os.MkdirAll(filepath.Dir(w.config), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(w.config, []byte("[global]\nrepo1-path="+w.repo+"\n\n["+w.stanza+"]\npg1-path="+other.DataDir+"\n"), 0o640); err != nil {
		t.Fatal(err)
	}
	refuse("data directory not the server's", "but the server's data directory is "+w.pg.DataDir)
	if err := os.RemoveAll(filepath.Dir(filepath.Dir(w.config))); err != nil {
		t.Fatal(err)
	}

	w.pg.Exec(t, "postgres", "CREATE ROLE "+w.role+" LOGIN; GRANT SELECT ON payroll TO "+w.role)
	t.Cleanup(func() { w.pg.Exec(t, "postgres", "DROP OWNED BY "+w.role+"; DROP ROLE "+w.role) })
	refuse("role name taken", "already exists with other privileges: SELECT on payroll")
}
