package sshsteps_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/sshsteps"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

func registry() *steps.Registry {
	r := steps.NewRegistry()
	sshsteps.Register(r)
	return r
}

// bed is a backup host on loopback: a real sshd, an engineer's admin login with password-less
// sudo and its own key, and a backup login.
type bed struct {
	sshd     *testbed.SSHDaemon
	admin    *testbed.User
	adminKey string
	backup   *testbed.User
}

func newBed(t *testing.T, o testbed.SSHDOptions) *bed {
	t.Helper()
	b := &bed{sshd: testbed.SSHD(t, o)}
	b.admin = testbed.OSUser(t, "adm")
	testbed.SudoUser(t, b.admin)
	b.backup = testbed.OSUser(t, "bk")
	b.adminKey = filepath.Join(testbed.TempDir(t), "admin_ed25519")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", b.adminKey)
	pub, _ := os.ReadFile(b.adminKey + ".pub")
	dir := filepath.Join(b.admin.Home, ".ssh")
	must(t, os.MkdirAll(dir, 0o700))
	must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600))
	must(t, os.Chown(dir, b.admin.UID, b.admin.GID))
	must(t, os.Chown(filepath.Join(dir, "authorized_keys"), b.admin.UID, b.admin.GID))
	return b
}

// params are the target parameters every remote kind takes.
func (b *bed) params() map[string]string {
	return map[string]string{
		"host": b.sshd.Host, "port": fmt.Sprint(b.sshd.Port), "admin-user": b.admin.Name,
		"admin-identity": b.adminKey, "known-hosts": b.sshd.KnownHosts,
	}
}

const targetYAML = `
host: ${params.host}
port: ${params.port}
admin_user: ${params.admin-user}
admin_identity: ${params.admin-identity}
known_hosts: ${params.known-hosts}
`

func run(t testing.TB, argv ...string) string {
	t.Helper()
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func merge(ms ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// fileState is an independent probe: bytes (hash), mode and owner of a path, or "absent".
func fileState(t testing.TB, path string) string {
	fi, err := os.Lstat(path)
	if os.IsNotExist(err) {
		return path + ": absent"
	}
	must(t, err)
	st := fi.Sys().(*syscall.Stat_t)
	s := fmt.Sprintf("%s: %v uid=%d gid=%d", path, fi.Mode(), st.Uid, st.Gid)
	if fi.Mode().IsRegular() {
		b, _ := os.ReadFile(path)
		s += fmt.Sprintf(" sha=%x", sha256.Sum256(b))
	}
	return s
}

func TestKeypairContract(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(testbed.TempDir(t), "keys")
	must(t, os.Mkdir(dir, 0o700))
	key := filepath.Join(dir, "backup_ed25519")
	env := steptest.Env(t, map[string]string{"key": key})
	st := steptest.Decode(t, registry(), "ssh-keypair", "path: ${params.key}\nlabel: kp-test\n")
	other := filepath.Join(testbed.TempDir(t), "other")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other+"-a")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other+"-b")
	otherPub, err := os.ReadFile(other + "-b.pub")
	must(t, err)
	steptest.Run(t, steptest.Case{
		Step:  st,
		Env:   env,
		Probe: func(t testing.TB) string { return fileState(t, key) + "\n" + fileState(t, key+".pub") },
		LookAlike: &steptest.LookAlike{
			What: "an unencrypted ed25519 key at the path, 0600, whose .pub is another key's",
			Plant: func(t testing.TB) {
				priv, err := os.ReadFile(other + "-a")
				must(t, err)
				must(t, os.WriteFile(key, priv, 0o600))
				must(t, os.WriteFile(key+".pub", otherPub, 0o644))
			},
			There: func(t testing.TB) bool {
				pub, err := os.ReadFile(key + ".pub")
				_, perr := os.Stat(key)
				return err == nil && perr == nil && string(pub) == string(otherPub)
			},
			Remove: func(t testing.TB) {
				must(t, os.Remove(key))
				must(t, os.Remove(key+".pub"))
			},
		},
		Tamper: func(t testing.TB) {
			must(t, os.Chmod(key, 0o644)) // a key others can read is not reused
		},
	})
	// With the mode problem, Check blocks and Apply refuses: the key is never overwritten.
	before := fileState(t, key)
	if ch := st.Check(context.Background(), env); ch.State != steps.Blocked {
		t.Fatalf("want blocked on a 0644 key, got %s %s", ch.State, ch.Reason)
	}
	if _, err := st.Apply(context.Background(), env); err == nil {
		t.Fatal("apply over an unusable key must fail")
	}
	if fileState(t, key) != before {
		t.Fatal("apply touched an existing key")
	}
	must(t, os.Chmod(key, 0o600))
	out := run(t, "ssh-keygen", "-y", "-P", "", "-f", key) // OpenSSH reads it: no passphrase
	if !strings.HasPrefix(out, "ssh-ed25519 ") {
		t.Fatalf("ssh-keygen -y: %s", out)
	}
}

// A link at the key path to another usable key (root's own, say) is not the step's key: blocked,
// and apply neither reuses nor replaces it.
func TestKeypairRefusesALinkedKey(t *testing.T) {
	t.Parallel()
	dir := testbed.TempDir(t)
	real := filepath.Join(dir, "someone-elses")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", real)
	key := filepath.Join(dir, "backup")
	must(t, os.Symlink(real, key))
	must(t, os.Symlink(real+".pub", key+".pub"))
	env := steptest.Env(t, map[string]string{"key": key})
	st := steptest.Decode(t, registry(), "ssh-keypair", "path: ${params.key}\n")
	before := fileState(t, real) + fileState(t, real+".pub")
	ch := st.Check(context.Background(), env)
	if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "symbolic link") || ch.Fix == "" {
		t.Fatalf("want blocked (symbolic link) with a fix, got %s: %s", ch.State, ch.Reason)
	}
	if _, err := st.Apply(context.Background(), env); err == nil {
		t.Fatal("apply went ahead over a linked key")
	}
	if to, err := os.Readlink(key); err != nil || to != real || fileState(t, real)+fileState(t, real+".pub") != before {
		t.Fatalf("the link or the key it points to changed: %v %s", err, to)
	}
}

func TestKeypairRefusesForeignKey(t *testing.T) {
	t.Parallel()
	dir := testbed.TempDir(t)
	key := filepath.Join(dir, "id")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "secret", "-f", key)
	env := steptest.Env(t, map[string]string{"key": key})
	st := steptest.Decode(t, registry(), "ssh-keypair", "path: ${params.key}\n")
	ch := st.Check(context.Background(), env)
	if ch.State != steps.Blocked || !strings.Contains(ch.Reason, "passphrase") {
		t.Fatalf("want blocked (passphrase), got %s: %s", ch.State, ch.Reason)
	}
	rel := steptest.Env(t, map[string]string{"key": "keys/id"})
	if ch := st.Check(context.Background(), rel); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "absolute") {
		t.Fatalf("relative key path: want blocked, got %s: %s", ch.State, ch.Reason)
	}
}

// existingKeys is an authorized_keys with several entries: options, comments, a blank line, no
// trailing newline at the end — every byte must survive install and rollback.
const existingKeys = "# keys for the backup login — managed by hand\n" +
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl alice@laptop\n" +
	"\n" +
	`no-pty,from="10.0.0.0/8",command="/usr/local/bin/report" ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHJlcG9ydHJlcG9ydHJlcG9ydHJlcG9ydHJlcG9ydHJl report` + "\n" +
	"   # an indented comment\n" +
	"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJv bob (no newline at end)"

func TestAuthorizedKeyContract(t *testing.T) {
	t.Parallel()
	b := newBed(t, testbed.SSHDOptions{})
	keyDir := testbed.TempDir(t)
	key := filepath.Join(keyDir, "backup")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	dir := filepath.Join(b.backup.Home, ".ssh")
	file := filepath.Join(dir, "authorized_keys")
	must(t, os.MkdirAll(dir, 0o755)) // wrong on purpose: apply fixes it to 0700, rollback restores
	must(t, os.WriteFile(file, []byte(existingKeys), 0o644))
	must(t, os.Chown(dir, b.backup.UID, b.backup.GID))
	must(t, os.Chown(file, b.backup.UID, b.backup.GID))

	env := steptest.Env(t, merge(b.params(), map[string]string{"user": b.backup.Name, "key": key, "from": "127.0.0.1"}))
	st := steptest.Decode(t, registry(), "ssh-authorized-key", targetYAML+`
user: ${params.user}
key: ${params.key}
command: /bin/echo "backup only"
from: ${params.from}
label: ak-test
`)
	probe := func(t testing.TB) string { return fileState(t, dir) + "\n" + fileState(t, file) }
	original := probe(t)
	var installed []byte
	pub, err := os.ReadFile(key + ".pub")
	must(t, err)
	otherOptions := existingKeys + "\n" + `no-pty,command="/bin/sh" ` + strings.TrimSpace(string(pub)) + " someone-else\n"
	steptest.Run(t, steptest.Case{
		Step: st, Env: env, Probe: probe,
		LookAlike: &steptest.LookAlike{
			What:   "the same key with other options (command=/bin/sh) in authorized_keys",
			Plant:  func(t testing.TB) { must(t, os.WriteFile(file, []byte(otherOptions), 0o644)) },
			There:  func(t testing.TB) bool { b, _ := os.ReadFile(file); return string(b) == otherOptions },
			Remove: func(t testing.TB) { must(t, os.WriteFile(file, []byte(existingKeys), 0o644)) },
		},
		Tamper: func(t testing.TB) {
			data, _ := os.ReadFile(file)
			installed = data
			if !strings.HasPrefix(string(data), existingKeys+"\n") {
				t.Fatalf("existing lines not kept byte for byte:\n%q", data)
			}
			rest := strings.TrimPrefix(string(data), existingKeys+"\n")
			if !strings.HasPrefix(rest, `command="/bin/echo \"backup only\"",from="127.0.0.1",restrict ssh-ed25519 `) || strings.Count(rest, "\n") != 1 {
				t.Fatalf("appended entry: %q", rest)
			}
			fi, _ := os.Stat(file)
			di, _ := os.Stat(dir)
			if fi.Mode().Perm() != 0o600 || di.Mode().Perm() != 0o700 {
				t.Fatalf("modes after install: file %v dir %v", fi.Mode(), di.Mode())
			}
			// The key works through sshd (StrictModes on): the forced command runs.
			out, _ := exec.Command("ssh", "-i", key, "-p", fmt.Sprint(b.sshd.Port), "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
				"-o", "UserKnownHostsFile="+b.sshd.KnownHosts, b.backup.Name+"@127.0.0.1", "anything").CombinedOutput()
			if !strings.Contains(string(out), "backup only") {
				t.Fatalf("forced command did not run: %s\n%s", out, b.sshd.LogText())
			}
			// Behind cairn's back: someone removes our line.
			must(t, os.WriteFile(file, []byte(existingKeys), 0o600))
		},
	})
	if installed == nil {
		t.Fatal("tamper never ran")
	}
	// After the contract's rollback (and re-apply), roll back once more: byte for byte, modes too.
	must(t, os.WriteFile(file, installed, 0o600))
	must(t, st.Rollback(context.Background(), env))
	if got := probe(t); got != original {
		t.Fatalf("rollback did not restore the file:\nwant %s\ngot  %s", original, got)
	}
	if data, _ := os.ReadFile(file); string(data) != existingKeys {
		t.Fatalf("rollback: bytes differ:\n%q", data)
	}
	backups, _ := filepath.Glob(file + ".cairn-backup-*")
	if len(backups) == 0 {
		t.Fatal("no backup copy was kept")
	}
}

func TestAuthorizedKeyNewFileAndRefusals(t *testing.T) {
	t.Parallel()
	b := newBed(t, testbed.SSHDOptions{})
	key := filepath.Join(testbed.TempDir(t), "backup")
	run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	dir := filepath.Join(b.backup.Home, ".ssh")
	with := targetYAML + "user: ${params.user}\nkey: ${params.key}\ncommand: /bin/true\nfrom: 127.0.0.1\n"
	st := steptest.Decode(t, registry(), "ssh-authorized-key", with)
	env := steptest.Env(t, merge(b.params(), map[string]string{"user": b.backup.Name, "key": key}))
	pub, err := os.ReadFile(key + ".pub")
	must(t, err)
	ours := `command="/bin/true",from="127.0.0.1",restrict ` + strings.TrimSpace(string(pub)) + "\n"
	steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: func(t testing.TB) string {
		return fileState(t, dir) + "\n" + fileState(t, filepath.Join(dir, "authorized_keys"))
	}, LookAlike: &steptest.LookAlike{
		What: "a new authorized_keys holding the key with cairn's options but without cairn's label",
		Plant: func(t testing.TB) {
			must(t, os.MkdirAll(dir, 0o700))
			must(t, os.WriteFile(filepath.Join(dir, "authorized_keys"), []byte(ours), 0o600))
			must(t, os.Chown(dir, b.backup.UID, b.backup.GID))
			must(t, os.Chown(filepath.Join(dir, "authorized_keys"), b.backup.UID, b.backup.GID))
		},
		There: func(t testing.TB) bool {
			got, _ := os.ReadFile(filepath.Join(dir, "authorized_keys"))
			return string(got) == ours
		},
		Remove: func(t testing.TB) { must(t, os.RemoveAll(dir)) },
	}})

	ctx := context.Background()
	cases := []struct {
		name, want string
		params     map[string]string
	}{
		{"unknown host", "is not in", map[string]string{"known-hosts": writeFile(t, "")}},
		{"wrong host key", "WRONG host key", map[string]string{"known-hosts": writeFile(t, fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJv\n", b.sshd.Port))}},
		{"relative known_hosts", "relative", map[string]string{"known-hosts": "known_hosts"}},
		{"relative key", "absolute", map[string]string{"key": "backup"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := b.sshd.LogText()
			e := steptest.Env(t, merge(b.params(), map[string]string{"user": b.backup.Name, "key": key}, c.params))
			ch := st.Check(ctx, e)
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, c.want) {
				t.Fatalf("want blocked with %q, got %s: %s", c.want, ch.State, ch.Reason)
			}
			if _, err := st.Apply(ctx, e); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("apply: want an error with %q, got %v", c.want, err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Fatal("something was created")
			}
			if strings.Contains(strings.TrimPrefix(b.sshd.LogText(), before), "Accepted publickey for "+b.admin.Name) {
				t.Fatal("logged in despite the refused host key")
			}
		})
	}
}

func writeFile(t testing.TB, content string) string {
	p := filepath.Join(testbed.TempDir(t), "f")
	must(t, os.WriteFile(p, []byte(content), 0o644))
	return p
}

func sshdT(t testing.TB, cfg, key string) string {
	out := run(t, "/usr/sbin/sshd", "-T", "-f", cfg)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, key+" ") {
			return l
		}
	}
	return key + " ?"
}

func TestSSHDConfigContract(t *testing.T) {
	t.Parallel()
	// The config starts with an Include whose file sets PermitRootLogin first, as Debian's does:
	// appending at the end would do nothing; cairn's block goes on top.
	inc := testbed.TempDir(t)
	must(t, os.WriteFile(filepath.Join(inc, "10-root.conf"), []byte("PermitRootLogin no\n"), 0o644))
	b := newBed(t, testbed.SSHDOptions{Top: []string{"Include " + inc + "/*.conf"}})
	with := targetYAML + `
file: ${params.sshd-config}
keyword: PermitRootLogin
value: ${params.value}
reload: ${params.reload}
label: sshd-test
`
	st := steptest.Decode(t, registry(), "sshd-config", with)
	env := steptest.Env(t, merge(b.params(), map[string]string{"sshd-config": b.sshd.Config, "reload": b.sshd.ReloadCommand(), "value": "forced-commands-only"}))
	probe := func(t testing.TB) string {
		return fileState(t, b.sshd.Config) + "\n" + sshdT(t, b.sshd.Config, "permitrootlogin")
	}
	original, _ := os.ReadFile(b.sshd.Config)
	starts := b.sshd.StartCount()
	late := string(original) + "\nPermitRootLogin forced-commands-only\n"
	steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
		What:   "PermitRootLogin forced-commands-only at the end of sshd_config, after the Include that sets it first",
		Plant:  func(t testing.TB) { must(t, os.WriteFile(b.sshd.Config, []byte(late), 0o644)) },
		There:  func(t testing.TB) bool { got, _ := os.ReadFile(b.sshd.Config); return string(got) == late },
		Remove: func(t testing.TB) { must(t, os.WriteFile(b.sshd.Config, original, 0o644)) },
	}, Tamper: func(t testing.TB) {
		if got := sshdT(t, b.sshd.Config, "permitrootlogin"); got != "permitrootlogin forced-commands-only" {
			t.Fatalf("effective value: %s", got)
		}
		b.sshd.WaitReady(t)
		if b.sshd.StartCount() <= starts {
			t.Fatalf("sshd was not reloaded:\n%s", b.sshd.LogText())
		}
		must(t, os.WriteFile(b.sshd.Config, original, 0o644))
	}})
	if got, _ := os.ReadFile(b.sshd.Config); string(got) != string(original) {
		t.Fatalf("config not restored byte for byte")
	}
}

func TestSSHDConfigRejectedChangeChangesNothing(t *testing.T) {
	t.Parallel()
	b := newBed(t, testbed.SSHDOptions{})
	st := steptest.Decode(t, registry(), "sshd-config", targetYAML+"file: ${params.f}\nkeyword: PermitRootLogin\nvalue: sometimes\nreload: ${params.reload}\n")
	env := steptest.Env(t, merge(b.params(), map[string]string{"f": b.sshd.Config, "reload": b.sshd.ReloadCommand()}))
	before := fileState(t, b.sshd.Config)
	entries, _ := os.ReadDir(b.sshd.Dir)
	b.sshd.WaitReady(t)
	starts := b.sshd.StartCount()
	_, err := st.Apply(context.Background(), env)
	if err == nil || !strings.Contains(err.Error(), "sshd -t rejected") || !strings.Contains(err.Error(), "nothing was put in place") {
		t.Fatalf("want sshd -t rejection, got %v", err)
	}
	if fileState(t, b.sshd.Config) != before {
		t.Fatal("the config changed")
	}
	after, _ := os.ReadDir(b.sshd.Dir)
	if len(after) != len(entries) {
		t.Fatalf("files left behind: %v → %v", entries, after)
	}
	if b.sshd.StartCount() != starts || strings.Contains(b.sshd.LogText(), "SIGHUP") {
		t.Fatalf("sshd was reloaded:\n%s", b.sshd.LogText())
	}
}

func TestForcedCommandRefusesBadInput(t *testing.T) {
	t.Parallel()
	src := testbed.TempDir(t)
	base := map[string]string{"mode": "history-safe", "source": src, "dest": "/srv/backup/h", "root": "/srv/backup", "key": "/root/.ssh/k", "kh": "/root/.ssh/known_hosts"}
	st := steptest.Decode(t, registry(), "rsync-forced-command", `
mode: ${params.mode}
source: ${params.source}
dest: ${params.dest}
allowed_root: ${params.root}
host: 127.0.0.1
user: root
key: ${params.key}
known_hosts: ${params.kh}
`)
	for name, c := range map[string]struct {
		p    map[string]string
		want string
	}{
		"dest outside root": {map[string]string{"dest": "/etc/cron.d"}, "outside the allowed root"},
		"dest prefix trick": {map[string]string{"dest": "/srv/backup-evil"}, "outside the allowed root"},
		"relative source":   {map[string]string{"source": "data"}, "relative path"},
		"relative dest":     {map[string]string{"dest": "backup"}, "relative path"},
		"relative key":      {map[string]string{"key": "k"}, "relative path"},
		"unknown mode":      {map[string]string{"mode": "yolo"}, "use rsync-server"},
	} {
		t.Run(name, func(t *testing.T) {
			ch := st.Check(context.Background(), steptest.Env(t, merge(base, c.p)))
			if ch.State != steps.Blocked || !strings.Contains(ch.Reason, c.want) {
				t.Fatalf("want blocked with %q, got %s: %s", c.want, ch.State, ch.Reason)
			}
		})
	}
}

// TestForcedCommandMatchesRsync checks the derived line against what rsync itself reports with -vv
// (an independent probe of the same rsync).
func TestForcedCommandMatchesRsync(t *testing.T) {
	t.Parallel()
	src := testbed.TempDir(t)
	st := steptest.Decode(t, registry(), "rsync-forced-command", "mode: rsync-server\nsource: "+src+"\ndest: /srv/backup/x\nhost: 127.0.0.1\nuser: root\nkey: /root/k\noptions: [-a, -z]\n")
	env := steptest.Env(t, nil)
	steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: func(t testing.TB) string { return fileState(t, src) },
		NoLookAlike: "it derives a command from its parameters and reads nothing it could take for done: Check never says done"}, nil)
	out, err := st.Apply(context.Background(), env)
	must(t, err)
	line := out["server_line"].Value
	vv, _ := exec.Command("rsync", "-vv", "-a", "-z", "-e", "false", src+"/", "root@127.0.0.1:/srv/backup/x/").CombinedOutput()
	want := strings.Replace(line, "--server -", "--server -vv", 1)
	if !strings.Contains(string(vv), want) {
		t.Fatalf("derived %q; rsync -vv says:\n%s", line, vv)
	}
	if out["command"].Value != line || strings.Contains(line, "-v") {
		t.Fatalf("command %q", out["command"].Value)
	}
}
