package sshsteps_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

func allRuns(t *testing.T, state string) []string {
	t.Helper()
	ids, err := journal.List(state)
	if err != nil || len(ids) == 0 {
		t.Fatalf("no runs in %s: %v", state, err)
	}
	sort.Strings(ids)
	return ids
}

// The stock-setup matrix for ssh-backup-key: the backup host's sshd runs Debian's sshd_config as
// shipped (LogLevel INFO, UsePAM yes, its Include), with only Port, HostKey and PidFile set for the
// test. The runbook completes with the proof resting on the forced command's own effects, and says
// which log line it lacks and why; with -p sshd-log-level=VERBOSE its log-level step raises
// LogLevel for the proof (the log then shows each forced-command session), and rollback puts the
// file back byte for byte.
func TestRunbookStockSSHD(t *testing.T) {
	t.Parallel()
	b := newBed(t, testbed.SSHDOptions{Stock: true})
	w := &backupWorld{b: b, bin: testbed.CairnBinary(t), state: filepath.Join(testbed.TempDir(t), "state")}
	backupRoot := filepath.Join(testbed.SecureDir(t), "backup")
	w.dest = filepath.Join(backupRoot, "web1")
	must(t, os.MkdirAll(w.dest, 0o700))
	must(t, os.Chmod(backupRoot, 0o755)) // the backup login must reach its dest
	must(t, os.Chown(w.dest, b.backup.UID, b.backup.GID))
	w.cronUser = testbed.OSUser(t, "cr")
	w.source = filepath.Join(testbed.TempDir(t), "data")
	must(t, os.MkdirAll(w.source, 0o755))
	must(t, os.WriteFile(filepath.Join(w.source, "a.txt"), []byte("a\n"), 0o644))
	keyDir := filepath.Join(testbed.TempDir(t), "keys")
	must(t, os.Mkdir(keyDir, 0o700))
	must(t, os.Chown(keyDir, w.cronUser.UID, w.cronUser.GID))
	w.key = filepath.Join(keyDir, "backup_ed25519")
	w.rootKeys = filepath.Join(b.backup.Home, ".ssh", "authorized_keys") // the backup login's own file
	stock, err := os.ReadFile(b.sshd.Config)
	must(t, err)
	if !strings.Contains(string(stock), "#LogLevel INFO") || !strings.Contains(string(stock), "UsePAM yes") {
		t.Fatalf("not Debian's stock sshd_config:\n%s", stock)
	}
	w.params = []string{
		"-p", "host=127.0.0.1", "-p", "port=" + fmt.Sprint(b.sshd.Port), "-p", "user=" + b.backup.Name,
		"-p", "admin-user=" + b.admin.Name, "-p", "admin-identity=" + b.adminKey, "-p", "known-hosts=" + b.sshd.KnownHosts,
		"-p", "source=" + w.source, "-p", "dest=" + w.dest, "-p", "allowed-root=" + backupRoot,
		"-p", "key=" + w.key, "-p", "from=127.0.0.1", "-p", "schedule=0 6 * * wed", "-p", "cron-user=" + w.cronUser.Name,
		"-p", "mode=history-safe", "-p", "sshd-config=" + b.sshd.Config,
		"-p", "sshd-reload=" + b.sshd.ReloadCommand(), "-p", "sshd-log=cat " + b.sshd.Log, "-p", "outside-address=127.0.0.2",
		"-p", "sshd-log-level=keep",
	}

	for _, c := range []struct {
		level      string
		want, lack []string
	}{
		{"keep", []string{
			"sshd LogLevel INFO: the proof rests on the forced command's own effects",
			"the server chose " + w.dest + "/",
			"the forced command answered: cairn-backup: refused",
			"sshd: Accepted publickey for " + b.backup.Name + " from 127.0.0.1",
			`sshd's log has no line with "Starting session: forced-command (key-option)" (sshd writes it at LogLevel VERBOSE only)`,
			"Permission denied (publickey",
			"sshd: " + filepath.Join(b.backup.Home, ".ssh", "authorized_keys") + ":1: Authentication tried for " + b.backup.Name + " with correct key but not from a permitted host",
		}, []string{"[log-level] done", "sshd: Starting session: forced-command"}},
		{"VERBOSE", []string{
			"step log-level raises it to VERBOSE for the proof",
			"[log-level] done",
			"sshd: Starting session: forced-command (key-option)",
			"the forced command answered: cairn-backup: refused",
		}, []string{"sshd's log has no line with"}},
	} {
		before := w.state_(t)
		out, errOut, code := w.cairn(t, append([]string{"run", "ssh-backup-key", "--yes", "--no-tui", "--on-failure", "abort"}, w.with(map[string]string{"sshd-log-level": c.level})...)...)
		all := out + errOut
		if code != 0 {
			t.Fatalf("%s: run: exit %d\n%s\nsshd log:\n%s", c.level, code, all, b.sshd.LogText())
		}
		for _, want := range c.want {
			if !strings.Contains(all, want) {
				t.Errorf("%s: run output lacks %q", c.level, want)
			}
		}
		for _, lack := range c.lack {
			if strings.Contains(all, lack) {
				t.Errorf("%s: run output has %q", c.level, lack)
			}
		}
		if t.Failed() {
			t.Fatalf("%s run:\n%s", c.level, all)
		}
		if c.level == "VERBOSE" {
			if got := sshdT(t, b.sshd.Config, "loglevel"); got != "loglevel VERBOSE" {
				t.Fatalf("sshd -T after the run: %s", got)
			}
		}
		ids := allRuns(t, w.state)
		id := ids[len(ids)-1]
		finished := finishedCount(w.state, id)
		out, errOut, code = w.cairn(t, "rollback", id, "--yes", "--no-tui")
		if code != 0 {
			t.Fatalf("%s: rollback: exit %d\n%s\n%s", c.level, code, out, errOut)
		}
		waitRunner(t, w.state, id, finished)
		if got := w.state_(t); got != before {
			t.Fatalf("%s: rollback did not restore the files:\nwant %s\ngot  %s", c.level, before, got)
		}
		if got := sshdT(t, b.sshd.Config, "loglevel"); got != "loglevel INFO" {
			t.Fatalf("%s: sshd -T after rollback: %s", c.level, got)
		}
	}
}
