package testbed

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// sshdPath is Debian's sshd; sshd insists on being started by its absolute path (it re-execs itself).
const sshdPath = "/usr/sbin/sshd"

// SSHDOptions changes the test sshd's configuration.
type SSHDOptions struct {
	// LogLevel is sshd's LogLevel (default VERBOSE: it logs key fingerprints and key-option refusals).
	LogLevel string
	// Config holds extra sshd_config lines, written after the test bed's own (so a `Match` block
	// can end the file).
	Config []string
	// Top holds lines written before the test bed's own (sshd keeps the first value it reads).
	Top []string
	// Stock runs Debian's sshd_config as the package ships it (/usr/share/openssh/sshd_config),
	// byte for byte except its commented Port, first HostKey and PidFile lines, which are set for
	// the test (LogLevel stays INFO, UsePAM yes, no ListenAddress). LogLevel, Top and Config are
	// ignored.
	Stock bool
}

// StockSSHDConfig is where Debian's openssh-server keeps its sshd_config as shipped.
const StockSSHDConfig = "/usr/share/openssh/sshd_config"

// stockConfig is Debian's sshd_config with only Port, HostKey and PidFile set.
func (s *SSHDaemon) stockConfig() (string, error) {
	b, err := os.ReadFile(StockSSHDConfig)
	if err != nil {
		return "", fmt.Errorf("stock sshd_config: %w", err)
	}
	set := map[string]string{"#Port 22": "Port " + strconv.Itoa(s.Port), "#HostKey /etc/ssh/ssh_host_rsa_key": "HostKey " + s.HostKey,
		"#PidFile /run/sshd.pid": "PidFile " + s.PidFile}
	lines := strings.Split(string(b), "\n")
	for i, l := range lines {
		if v, ok := set[l]; ok {
			lines[i] = v
			delete(set, l)
		}
	}
	if len(set) > 0 {
		return "", fmt.Errorf("stock sshd_config %s lacks the lines %v", StockSSHDConfig, set)
	}
	return strings.Join(lines, "\n"), nil
}

// SSHDaemon is a real OpenSSH sshd listening on a free loopback port, with its own configuration, host
// key, pid file and log (its stderr, -e) under a TempDir. Clients trust it through KnownHosts, never blindly.
type SSHDaemon struct {
	Dir        string // its TempDir
	Config     string // sshd_config path (tests may edit it, then Reload)
	HostKey    string // private host key (ed25519)
	PidFile    string
	Log        string // sshd's log (its stderr)
	KnownHosts string // "[127.0.0.1]:PORT ssh-ed25519 …", for clients
	Host       string // 127.0.0.1
	Port       int

	cmd    *exec.Cmd
	exited chan error
}

// SSHD starts an sshd for the test; cleanup stops it. It needs root and /usr/sbin/sshd (skipped
// otherwise; failed under CI=true). Keys are read from each user's ~/.ssh/authorized_keys with
// StrictModes on, so test users must come from OSUser (homes that sshd accepts).
func SSHD(t testing.TB, o SSHDOptions) *SSHDaemon {
	t.Helper()
	Require(t, "root (to run sshd)", requireRoot)
	Require(t, "OpenSSH server", func() error { _, err := os.Stat(sshdPath); return err })
	dir := TempDir(t)
	s := &SSHDaemon{
		Dir:        dir,
		Config:     filepath.Join(dir, "sshd_config"),
		HostKey:    filepath.Join(dir, "ssh_host_ed25519_key"),
		PidFile:    filepath.Join(dir, "sshd.pid"),
		Log:        filepath.Join(dir, "sshd.log"),
		KnownHosts: filepath.Join(dir, "known_hosts"),
		Host:       "127.0.0.1",
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "cairn-testbed", "-f", s.HostKey).CombinedOutput(); err != nil {
		t.Fatalf("testbed sshd: host key: %v: %s", err, out)
	}
	pub, err := os.ReadFile(s.HostKey + ".pub")
	if err != nil {
		t.Fatalf("testbed sshd: %v", err)
	}
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation directory
		t.Fatalf("testbed sshd: %v", err)
	}
	for attempt := 0; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testbed sshd: %v", err)
		}
		s.Port = port
		if err := s.writeConfig(o); err != nil {
			t.Fatalf("testbed sshd: %v", err)
		}
		f := strings.Fields(string(pub))
		kh := fmt.Sprintf("[%s]:%d %s %s\n", s.Host, s.Port, f[0], f[1])
		if err := os.WriteFile(s.KnownHosts, []byte(kh), 0o644); err != nil {
			t.Fatalf("testbed sshd: %v", err)
		}
		if out, err := exec.CommandContext(ctx, sshdPath, "-t", "-f", s.Config).CombinedOutput(); err != nil {
			t.Fatalf("testbed sshd: sshd -t: %v: %s", err, out)
		}
		err = s.start()
		if err == nil {
			break
		}
		if attempt >= 3 {
			t.Fatalf("testbed sshd: %v\n%s", err, s.LogText())
		}
	}
	t.Cleanup(func() {
		if s.cmd != nil && s.cmd.Process != nil {
			_ = s.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-s.exited:
			case <-time.After(10 * time.Second):
				_ = s.cmd.Process.Kill()
				<-s.exited
			}
		}
	})
	return s
}

func (s *SSHDaemon) writeConfig(o SSHDOptions) error {
	if o.Stock {
		cfg, err := s.stockConfig()
		if err != nil {
			return err
		}
		return os.WriteFile(s.Config, []byte(cfg), 0o644)
	}
	level := o.LogLevel
	if level == "" {
		level = "VERBOSE"
	}
	lines := append([]string(nil), o.Top...)
	lines = append(lines,
		"Port "+strconv.Itoa(s.Port),
		"ListenAddress "+s.Host,
		"HostKey "+s.HostKey,
		"PidFile "+s.PidFile,
		"AuthorizedKeysFile .ssh/authorized_keys",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"UsePAM no",
		"StrictModes yes",
		"LogLevel "+level,
		"MaxStartups 50:30:100",
		"Subsystem sftp internal-sftp",
	)
	lines = append(lines, o.Config...)
	return os.WriteFile(s.Config, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
}

// start runs sshd in the foreground (-D) as the test's child, so stopping it needs no pid file,
// and waits until it answers with its banner.
func (s *SSHDaemon) start() error {
	// -e with stderr to the log: with -E, sshd's per-connection children log nothing.
	logf, err := os.OpenFile(s.Log, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(sshdPath, "-D", "-e", "-f", s.Config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("sshd exited at start: %v", err)
		default:
		}
		if s.banner() == nil {
			s.cmd, s.exited = cmd, exited
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = cmd.Process.Kill()
	<-exited
	return errors.New("sshd did not answer within 15s")
}

// banner connects and reads the SSH banner.
func (s *SSHDaemon) banner() error {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "SSH-2.0-") {
		return fmt.Errorf("unexpected banner %q", line)
	}
	return nil
}

// Addr is host:port.
func (s *SSHDaemon) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// ReloadCommand is a shell command that makes this sshd re-read its configuration, as
// `systemctl reload ssh` does for the real one.
func (s *SSHDaemon) ReloadCommand() string {
	return "kill -HUP \"$(cat " + s.PidFile + ")\""
}

// Reload sends SIGHUP (sshd re-executes itself with the same pid) and waits until it answers again.
func (s *SSHDaemon) Reload(t testing.TB) {
	t.Helper()
	if err := s.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatalf("testbed sshd reload: %v", err)
	}
	s.WaitReady(t)
}

// WaitReady waits until sshd answers (after a reload by SIGHUP, from the test or a step).
func (s *SSHDaemon) WaitReady(t testing.TB) {
	t.Helper()
	time.Sleep(100 * time.Millisecond)
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		if s.banner() == nil {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("testbed sshd: not answering after reload\n%s", s.LogText())
}

// LogText is sshd's log so far.
func (s *SSHDaemon) LogText() string {
	b, _ := os.ReadFile(s.Log)
	return string(b)
}

// StartCount counts the "Server listening" lines in the log: one per start or reload.
func (s *SSHDaemon) StartCount() int {
	return strings.Count(s.LogText(), "Server listening on")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// SudoUser lets u run any command as root through `sudo -n` (no password), as an engineer's
// admin account on a backup host does, by a drop-in under /etc/sudoers.d removed on cleanup. It
// needs sudo installed (skipped otherwise; failed under CI=true).
func SudoUser(t testing.TB, u *User) {
	t.Helper()
	Require(t, "sudo", func() error { _, err := exec.LookPath("sudo"); return err })
	f := filepath.Join("/etc/sudoers.d", "cairn-testbed-"+u.Name)
	if err := os.WriteFile(f, []byte(u.Name+" ALL=(ALL:ALL) NOPASSWD: ALL\n"), 0o440); err != nil {
		t.Fatalf("testbed sudo: %v", err)
	}
	t.Cleanup(func() { _ = os.Remove(f) })
}

// SecureDir makes a root-owned 0755 directory under /home/cairn-testbed (whose parents are not
// world-writable, unlike /var/tmp), for files sshd's StrictModes must accept outside any home —
// e.g. root's authorized_keys in a test. Removed on cleanup.
func SecureDir(t testing.TB) string {
	t.Helper()
	Require(t, "root", requireRoot)
	if err := mkdir755(homes); err != nil {
		t.Fatalf("testbed secure dir: %v", err)
	}
	d := filepath.Join(homes, UniqueName(t, "dir"))
	if err := mkdir755(d); err != nil {
		t.Fatalf("testbed secure dir: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	return d
}
