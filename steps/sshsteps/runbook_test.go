package sshsteps_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// backupWorld is the whole issue-8 scene on loopback: this host (the source, cron user, key) and
// a backup host (a real sshd with its own config, root's authorized_keys in a secure directory,
// the engineer's sudo login), driven through the cairn binary.
type backupWorld struct {
	b                           *bed
	bin, state                  string
	rootKeys, source, key, dest string
	cronUser                    *testbed.User
	sshdConfig                  []byte
	params                      []string
}

func newBackupWorld(t *testing.T, mode string) *backupWorld {
	t.Helper()
	secure := testbed.SecureDir(t)
	rootKeys := filepath.Join(secure, "root_authorized_keys")
	w := &backupWorld{b: newBed(t, testbed.SSHDOptions{Config: []string{"Match User root", "    AuthorizedKeysFile " + rootKeys}})}
	w.bin = testbed.CairnBinary(t)
	w.state = filepath.Join(testbed.TempDir(t), "state")
	w.rootKeys = rootKeys
	must(t, os.WriteFile(rootKeys, []byte(existingKeys), 0o600))
	backupRoot := filepath.Join(secure, "backup")
	w.dest = filepath.Join(backupRoot, "web1")
	must(t, os.MkdirAll(w.dest, 0o700))
	w.cronUser = testbed.OSUser(t, "cr")
	// The source: files with several owners and modes, which a root backup must keep.
	w.source = filepath.Join(testbed.TempDir(t), "data")
	must(t, os.MkdirAll(filepath.Join(w.source, "etc", "app"), 0o750))
	must(t, os.WriteFile(filepath.Join(w.source, "etc", "app", "secret.conf"), []byte("token=1\n"), 0o640))
	must(t, os.WriteFile(filepath.Join(w.source, "report 100%.txt"), []byte("numbers\n"), 0o644))
	must(t, os.Chown(filepath.Join(w.source, "etc", "app", "secret.conf"), w.b.backup.UID, w.b.backup.GID))
	must(t, os.Chown(filepath.Join(w.source, "etc"), w.cronUser.UID, w.cronUser.GID))
	keyDir := filepath.Join(testbed.TempDir(t), "keys")
	must(t, os.Mkdir(keyDir, 0o700))
	must(t, os.Chown(keyDir, w.cronUser.UID, w.cronUser.GID))
	w.key = filepath.Join(keyDir, "backup_ed25519")
	w.sshdConfig, _ = os.ReadFile(w.b.sshd.Config)
	w.params = []string{
		"-p", "host=127.0.0.1", "-p", "port=" + fmt.Sprint(w.b.sshd.Port), "-p", "user=root",
		"-p", "admin-user=" + w.b.admin.Name, "-p", "admin-identity=" + w.b.adminKey, "-p", "known-hosts=" + w.b.sshd.KnownHosts,
		"-p", "source=" + w.source, "-p", "dest=" + w.dest, "-p", "allowed-root=" + backupRoot,
		"-p", "key=" + w.key, "-p", "from=127.0.0.1", "-p", "schedule=0 6 * * wed", "-p", "cron-user=" + w.cronUser.Name,
		"-p", "mode=" + mode, "-p", "authorized-keys=" + rootKeys, "-p", "sshd-config=" + w.b.sshd.Config,
		"-p", "sshd-reload=" + w.b.sshd.ReloadCommand(), "-p", "sshd-log=cat " + w.b.sshd.Log, "-p", "outside-address=127.0.0.2",
	}
	return w
}

func (w *backupWorld) cairn(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = append(os.Environ(), "CAIRN_STATE_DIR="+w.state, "NO_COLOR=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("cairn %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// with replaces -p name=value in the parameters.
func (w *backupWorld) with(over map[string]string) []string {
	out := append([]string(nil), w.params...)
	for i := 1; i < len(out); i += 2 {
		name, _, _ := strings.Cut(out[i], "=")
		if v, ok := over[name]; ok {
			out[i] = name + "=" + v
		}
	}
	return out
}

// state is everything the runbook may change, as the test sees it.
func (w *backupWorld) state_(t *testing.T) string {
	ak, _ := os.ReadFile(w.rootKeys)
	cfg, _ := os.ReadFile(w.b.sshd.Config)
	return fmt.Sprintf("authorized_keys=%q\nsshd_config=%q\n%s\n%s\ncrontab=%s", ak, cfg, fileState(t, w.key), fileState(t, w.key+".pub"), crontab(w.cronUser.Name))
}

func crontab(u string) string {
	out, err := exec.Command("crontab", "-u", u, "-l").CombinedOutput()
	if err != nil {
		return "none"
	}
	return string(out)
}

func TestRunbookHistorySafeAndRollback(t *testing.T) {
	t.Parallel()
	w := newBackupWorld(t, "history-safe")
	before := w.state_(t)
	out, errOut, code := w.cairn(t, append([]string{"run", "ssh-backup-key", "--yes", "--no-tui"}, w.params...)...)
	if code != 0 {
		t.Fatalf("run: exit %d\n%s\n%s\nsshd log:\n%s", code, out, errOut, w.b.sshd.LogText())
	}
	all := out + errOut
	for _, want := range []string{
		"sshd: Accepted publickey for root from 127.0.0.1",
		"sshd: Starting session: forced-command (key-option)",
		"PTY allocation request failed",
		"not from a permitted host",
		"cairn-backup: refused",
		"files arrived in " + w.dest + "/",
		"with modes, owners, sizes and contents kept",
	} {
		if !strings.Contains(all, want) {
			t.Errorf("run output lacks %q", want)
		}
	}
	if strings.Contains(out, "pwned\n") {
		t.Error("a shell ran")
	}
	// Installed: existing authorized_keys bytes kept, the entry appended, the effective sshd value,
	// the crontab entry with % escaped, the key 0600 owned by the cron user.
	ak, _ := os.ReadFile(w.rootKeys)
	if !strings.HasPrefix(string(ak), existingKeys+"\n") || !strings.Contains(string(ak), `from="127.0.0.1",restrict ssh-ed25519 `) {
		t.Fatalf("authorized_keys:\n%s", ak)
	}
	if got := sshdT(t, w.b.sshd.Config, "permitrootlogin"); got != "permitrootlogin forced-commands-only" {
		t.Fatalf("sshd -T: %s", got)
	}
	ct := crontab(w.cronUser.Name)
	if !strings.Contains(ct, "# cairn:schedule") || !strings.Contains(ct, "0 6 * * wed rsync -a -e 'ssh -i "+w.key) || !strings.Contains(ct, "BatchMode=yes") {
		t.Fatalf("crontab:\n%s", ct)
	}
	// The cron line, run as cron would (sh -c, % unescaped by cron), makes a second dated backup.
	line := strings.SplitN(strings.Split(ct, "\n")[len(strings.Split(strings.TrimSpace(ct), "\n"))-1], " ", 6)[5]
	time.Sleep(1100 * time.Millisecond) // the wrapper names backups by the second
	if b, err := exec.Command("sh", "-c", strings.ReplaceAll(line, `\%`, "%")).CombinedOutput(); err != nil {
		t.Fatalf("the cron command failed: %v\n%s", err, b)
	}
	dirs, _ := filepath.Glob(filepath.Join(w.dest, "2*Z"))
	if len(dirs) != 2 {
		t.Fatalf("want 2 dated backups, have %v", dirs)
	}

	id := onlyRun(t, w.state)
	finished := finishedCount(w.state, id)
	out, errOut, code = w.cairn(t, "rollback", id, "--yes", "--no-tui")
	if code != 0 {
		t.Fatalf("rollback: exit %d\n%s\n%s", code, out, errOut)
	}
	waitRunner(t, w.state, id, finished)
	if got := w.state_(t); got != before {
		jl, _ := os.ReadFile(filepath.Join(w.state, "runs", id, "journal.jsonl"))
		rl, _ := os.ReadFile(filepath.Join(w.state, "runs", id, "runner.log"))
		lines := strings.Split(string(jl), "\n")
		if len(lines) > 12 {
			lines = lines[len(lines)-12:]
		}
		t.Fatalf("rollback did not restore the files:\nwant %s\ngot  %s\nrollback said:\n%s\njournal tail:\n%s\nrunner log:\n%s", before, got, errOut, strings.Join(lines, "\n"), rl)
	}
	if got := sshdT(t, w.b.sshd.Config, "permitrootlogin"); got == "permitrootlogin forced-commands-only" {
		t.Fatal("still forced-commands-only")
	}
	// Backups are data: never deleted by rollback.
	if dirs, _ := filepath.Glob(filepath.Join(w.dest, "2*Z")); len(dirs) != 2 {
		t.Fatalf("backups after rollback: %v", dirs)
	}
}

// finishedCount counts the run.finished events in the run's journal.
func finishedCount(state, id string) int {
	b, _ := os.ReadFile(filepath.Join(state, "runs", id, "journal.jsonl"))
	return strings.Count(string(b), `"type":"run.finished"`)
}

// waitRunner waits for one more run.finished event in the journal: `cairn rollback` can return
// before its detached runner has even started (it reads the run's earlier finish).
func waitRunner(t *testing.T, state, id string, finishedBefore int) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if finishedCount(state, id) > finishedBefore {
			r, err := journal.Open(state, id)
			if err != nil {
				t.Fatal(err)
			}
			if _, alive := journal.Holder(r); !alive {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatal("the rollback runner did not finish within 90s")
}

func onlyRun(t *testing.T, state string) string {
	t.Helper()
	ids, err := journal.List(state)
	if err != nil || len(ids) != 1 {
		t.Fatalf("want one run, have %v (%v)", ids, err)
	}
	return ids[0]
}

// Bad input is refused before any change, with a clear message.
func TestRunbookRefusesBadInputBeforeAnyChange(t *testing.T) {
	t.Parallel()
	w := newBackupWorld(t, "history-safe")
	before := w.state_(t)
	wrong := filepath.Join(testbed.TempDir(t), "known_hosts_wrong")
	must(t, os.WriteFile(wrong, []byte(fmt.Sprintf("[127.0.0.1]:%d ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJvYmJv\n", w.b.sshd.Port)), 0o644))
	empty := filepath.Join(testbed.TempDir(t), "known_hosts_empty")
	must(t, os.WriteFile(empty, nil, 0o644))
	for name, c := range map[string]struct {
		over map[string]string
		want string
	}{
		"unknown host":              {map[string]string{"known-hosts": empty}, "is not in " + empty},
		"wrong host key":            {map[string]string{"known-hosts": wrong}, "WRONG host key"},
		"relative source":           {map[string]string{"source": "data"}, "does not match the pattern"},
		"relative key":              {map[string]string{"key": "backup_ed25519"}, "does not match the pattern"},
		"outside root":              {map[string]string{"dest": "/etc/ssh"}, "outside the allowed root"},
		"invalid schedule":          {map[string]string{"schedule": "0 25 * * *"}, "hour \"25\" is not in 0-23"},
		"admin is the backup login": {map[string]string{"admin-user": "root"}, "admin-user root is also the backup login (user=root)"},
	} {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := w.cairn(t, append([]string{"run", "ssh-backup-key", "--yes", "--no-tui", "--on-failure", "abort"}, w.with(c.over)...)...)
			if code == 0 || !strings.Contains(out+errOut, c.want) {
				t.Fatalf("exit %d, want a refusal with %q:\n%s\n%s", code, c.want, out, errOut)
			}
			if got := w.state_(t); got != before {
				t.Fatalf("something changed:\n%s\n%s", before, got)
			}
		})
	}
}
