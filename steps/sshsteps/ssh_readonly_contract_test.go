package sshsteps_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// roScene is newBackupWorld's scene without the cairn binary: a backup host on loopback whose root
// reads its authorized_keys from a secure directory (existingKeys in it), a destination under an
// allowed root holding one earlier backup, a cron user, and a source tree with several owners and
// modes. The read-only kinds run on it step by step.
type roScene struct {
	b                           *bed
	rootKeys, source, key, dest string
	root, earlier               string
	cronUser                    *testbed.User
}

func newROScene(t *testing.T) *roScene {
	t.Helper()
	secure := testbed.SecureDir(t)
	s := &roScene{rootKeys: filepath.Join(secure, "root_authorized_keys")}
	s.b = newBed(t, testbed.SSHDOptions{Config: []string{"Match User root", "    AuthorizedKeysFile " + s.rootKeys}})
	must(t, os.WriteFile(s.rootKeys, []byte(existingKeys), 0o600))
	s.root = filepath.Join(secure, "backup")
	s.dest = filepath.Join(s.root, "web1")
	// An earlier backup, which nothing may change.
	s.earlier = "20200101T000000Z"
	must(t, os.MkdirAll(filepath.Join(s.dest, s.earlier, "etc"), 0o700))
	must(t, os.WriteFile(filepath.Join(s.dest, s.earlier, "etc", "old.conf"), []byte("old=1\n"), 0o640))
	s.cronUser = testbed.OSUser(t, "cr")
	s.source = filepath.Join(testbed.TempDir(t), "data")
	must(t, os.MkdirAll(filepath.Join(s.source, "etc", "app"), 0o750))
	must(t, os.WriteFile(filepath.Join(s.source, "etc", "app", "secret.conf"), []byte("token=1\n"), 0o640))
	must(t, os.WriteFile(filepath.Join(s.source, "report 100%.txt"), []byte("numbers\n"), 0o644))
	must(t, os.Chown(filepath.Join(s.source, "etc", "app", "secret.conf"), s.b.backup.UID, s.b.backup.GID))
	must(t, os.Chown(filepath.Join(s.source, "etc"), s.cronUser.UID, s.cronUser.GID))
	keyDir := filepath.Join(testbed.TempDir(t), "keys")
	must(t, os.Mkdir(keyDir, 0o700))
	s.key = filepath.Join(keyDir, "backup_ed25519")
	return s
}

func (s *roScene) params() map[string]string {
	return merge(s.b.params(), map[string]string{
		"mode": "history-safe", "source": s.source, "dest": s.dest, "allowed-root": s.root, "user": "root", "key": s.key,
		"cron-user": s.cronUser.Name, "schedule": "0 6 * * wed", "from": "127.0.0.1", "authorized-keys": s.rootKeys,
		"sshd-log": "cat " + s.b.sshd.Log, "outside-address": "127.0.0.2",
	})
}

// tree lists dir as the test sees it: each entry's relative path, mode, owner, group and bytes.
// skip leaves out top-level entries (and everything under them).
func tree(t testing.TB, dir string, skip func(top string) bool) string {
	t.Helper()
	var lines []string
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if top, _, _ := strings.Cut(rel, string(filepath.Separator)); skip != nil && rel != "." && skip(top) {
			if fi.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		lines = append(lines, strings.Replace(fileState(t, p), dir, "<dir>", 1))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if os.IsNotExist(err) {
		return dir + ": absent"
	}
	return strings.Join(lines, "\n")
}

// probe is the backup host and this host as the test sees them: root's and the admin's
// authorized_keys, sshd_config, the destination tree (less what skip leaves out), the key files and
// the cron user's crontab.
func (s *roScene) probe(skip func(top string) bool) func(t testing.TB) string {
	return func(t testing.TB) string {
		ak, _ := os.ReadFile(s.rootKeys)
		adm, _ := os.ReadFile(filepath.Join(s.b.admin.Home, ".ssh", "authorized_keys"))
		cfg, _ := os.ReadFile(s.b.sshd.Config)
		return fmt.Sprintf("root authorized_keys=%q\n%s\nadmin authorized_keys=%q\nsshd_config=%q\ndest:\n%s\nsource:\n%s\n%s\n%s\ncrontab=%s",
			ak, fileState(t, s.rootKeys), adm, cfg, tree(t, s.dest, skip), tree(t, s.source, nil), fileState(t, s.key), fileState(t, s.key+".pub"), crontab(s.cronUser.Name))
	}
}

const preflightYAML = `
mode: ${params.mode}
source: ${params.source}
dest: ${params.dest}
allowed_root: ${params.allowed-root}
host: ${params.host}
port: ${params.port}
user: ${params.user}
key: ${params.key}
known_hosts: ${params.known-hosts}
admin_user: ${params.admin-user}
admin_identity: ${params.admin-identity}
cron_user: ${params.cron-user}
schedule: ${params.schedule}
`

// ssh-backup-preflight only reads: it logs in with the engineer's access and looks, changing nothing
// on either host; an unknown host key or a missing destination is refused, with the fix.
func TestBackupPreflightReadOnlyContract(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		spoil func(t testing.TB, s *roScene)
		want  string
	}{
		"unknown host key": {func(t testing.TB, s *roScene) { must(t, os.WriteFile(s.b.sshd.KnownHosts, nil, 0o644)) }, "is not in "},
		"dest missing":     {func(t testing.TB, s *roScene) { must(t, os.RemoveAll(s.dest)) }, "dest "},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newROScene(t)
			st := steptest.Decode(t, registry(), "ssh-backup-preflight", preflightYAML)
			env := steptest.Env(t, s.params())
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: s.probe(nil),
				NoLookAlike: "it reads the host, the paths, rsync, sudo and cron afresh every run and accepts nothing as done: Check never says done"},
				func(t testing.TB) { c.spoil(t, s) })
			ch := st.Check(context.Background(), env)
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, c.want) || ch.Fix == "" {
				t.Fatalf("want blocked with %q and a fix, got %+v", c.want, ch)
			}
			if _, err := st.Apply(context.Background(), env); err == nil {
				t.Fatal("apply passed on the spoiled target")
			}
		})
	}
}

const proofYAML = `
mode: ${params.mode}
source: ${params.source}
dest: ${params.dest}
allowed_root: ${params.allowed-root}
host: ${params.host}
port: ${params.port}
user: ${params.user}
key: ${params.key}
known_hosts: ${params.known-hosts}
admin_user: ${params.admin-user}
admin_identity: ${params.admin-identity}
outside_address: ${params.outside-address}
sshd_log: ${params.sshd-log}
`

// install puts the backup key in place the way the runbook does, with the earlier kinds: a key pair,
// the derived forced command, and the restricted entry in root's authorized_keys.
func (s *roScene) install(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	env := steptest.Env(t, s.params())
	kp := steptest.Decode(t, registry(), "ssh-keypair", "path: ${params.key}\nowner: ${params.cron-user}\n")
	if _, err := kp.Apply(ctx, env); err != nil {
		t.Fatalf("ssh-keypair: %v", err)
	}
	fc := steptest.Decode(t, registry(), "rsync-forced-command", `
mode: ${params.mode}
source: ${params.source}
dest: ${params.dest}
allowed_root: ${params.allowed-root}
host: ${params.host}
port: ${params.port}
user: ${params.user}
key: ${params.key}
known_hosts: ${params.known-hosts}
`)
	out, err := fc.Apply(ctx, env)
	if err != nil {
		t.Fatalf("rsync-forced-command: %v", err)
	}
	env = steptest.Env(t, merge(s.params(), map[string]string{"steps.server-command.command": out["command"].Value}))
	ak := steptest.Decode(t, registry(), "ssh-authorized-key", targetYAML+`
user: ${params.user}
file: ${params.authorized-keys}
key: ${params.key}
command: ${steps.server-command.command}
from: ${params.from}
`)
	if _, err := ak.Apply(ctx, env); err != nil {
		t.Fatalf("ssh-authorized-key: %v", err)
	}
}

var dated = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z$`)

// ssh-key-proof changes nothing but what one backup run changes: on an installed key it passes,
// leaving the authorized_keys, sshd_config, the earlier backup and the rest of the destination as
// they were; with the key's entry removed (or the host key unknown) the proof fails. Its rollback
// declares NotReversible (backups are kept), which the read-only contract accepts.
func TestKeyProofReadOnlyContract(t *testing.T) {
	t.Parallel()
	for name, c := range map[string]struct {
		spoil func(t testing.TB, s *roScene)
		want  string
	}{
		"key entry removed": {func(t testing.TB, s *roScene) { must(t, os.WriteFile(s.rootKeys, []byte(existingKeys), 0o600)) }, "the backup push failed"},
		"unknown host key":  {func(t testing.TB, s *roScene) { must(t, os.WriteFile(s.b.sshd.KnownHosts, nil, 0o644)) }, "is not in "},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := newROScene(t)
			s.install(t)
			// The proof's one real push makes, on purpose, a new dated backup directory under dest
			// (history-safe: the server picks <dest>/<UTC time>/): that is the backup a cron run would
			// make, and cairn keeps it. The probe leaves out dated directories that were not there at
			// the start — and nothing else: the earlier backup, any leftover .incoming-* directory and
			// every other entry of dest are compared byte for byte.
			start := map[string]bool{}
			entries, err := os.ReadDir(s.dest)
			must(t, err)
			for _, e := range entries {
				start[e.Name()] = true
			}
			newBackup := func(top string) bool { return dated.MatchString(top) && !start[top] }
			st := steptest.Decode(t, registry(), "ssh-key-proof", proofYAML)
			env := steptest.Env(t, s.params())
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: s.probe(newBackup),
				NoLookAlike: "it proves by doing: one real backup through the forced command and the refusal probes, every run; Check never says done"},
				func(t testing.TB) { c.spoil(t, s) })

			// The refusal is the proof failing for the spoiled prerequisite, not for something else.
			if _, err := st.Apply(context.Background(), env); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("apply on the spoiled target: want an error with %q, got %v", c.want, err)
			}
			// Only the successful proof made a backup: exactly one, a copy of the source.
			var made []string
			entries, _ = os.ReadDir(s.dest)
			for _, e := range entries {
				if newBackup(e.Name()) {
					made = append(made, e.Name())
				}
			}
			if len(made) != 1 {
				t.Fatalf("want one new backup from the proof, have %v", made)
			}
			if got, want := tree(t, filepath.Join(s.dest, made[0]), nil), tree(t, s.source, nil); got != want {
				t.Fatalf("the proof's backup is not the source:\nsource:\n%s\nbackup:\n%s", want, got)
			}
		})
	}
}
