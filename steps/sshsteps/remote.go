package sshsteps

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Target is the backup host as the engineer reaches it with their own access (used only to
// install): host, port, the admin login, its identity and the known_hosts its host key must be in.
type Target struct {
	Host          ref.Template `yaml:"host"`
	Port          ref.Template `yaml:"port"`           // default 22
	AdminUser     ref.Template `yaml:"admin_user"`     // default: the local user cairn runs as
	AdminIdentity ref.Template `yaml:"admin_identity"` // default: the ssh agent, then ~/.ssh/id_{ed25519,ecdsa,rsa}
	KnownHosts    ref.Template `yaml:"known_hosts"`    // default ~/.ssh/known_hosts
}

// target is a resolved Target.
type target struct {
	host, adminUser, identity, knownHosts string
	port                                  int
}

func (t target) hostPort() string { return net.JoinHostPort(t.host, strconv.Itoa(t.port)) }

// String names the target as a plan shows it.
func (t target) String() string { return fmt.Sprintf("%s@%s", t.adminUser, t.hostPort()) }

// describe renders the target for a plan.
func (t *Target) describe(env *steps.Env) string {
	port := env.Describe(t.Port)
	if port == "" {
		port = "22"
	}
	u := env.Describe(t.AdminUser)
	if u == "" {
		u = "(you)"
	}
	return fmt.Sprintf("%s@%s:%s", u, env.Describe(t.Host), port)
}

func homeDir() string {
	if h, err := os.UserHomeDir(); err == nil {
		return h
	}
	return "/root"
}

// resolve renders and checks the target's fields; every problem is a plain sentence with the fix.
func (t *Target) resolve(env *steps.Env) (target, error) {
	var r target
	var err error
	if r.host, err = env.Text(t.Host); err != nil {
		return r, err
	}
	if r.host == "" || strings.ContainsAny(r.host, " \t@/'\"") {
		return r, fmt.Errorf("host %q is not a host name or address", r.host)
	}
	port, err := env.Text(t.Port)
	if err != nil {
		return r, err
	}
	r.port = 22
	if port != "" {
		if r.port, err = strconv.Atoi(port); err != nil || r.port < 1 || r.port > 65535 {
			return r, fmt.Errorf("port %q is not a TCP port", port)
		}
	}
	if r.adminUser, err = env.Text(t.AdminUser); err != nil {
		return r, err
	}
	if r.adminUser == "" {
		u, err := user.Current()
		if err != nil {
			return r, fmt.Errorf("who am I: %w", err)
		}
		r.adminUser = u.Username
	}
	if r.identity, err = env.Text(t.AdminIdentity); err != nil {
		return r, err
	}
	if r.identity != "" && !filepath.IsAbs(r.identity) {
		return r, fmt.Errorf("admin identity %q is a relative path: give an absolute path", r.identity)
	}
	if r.knownHosts, err = env.Text(t.KnownHosts); err != nil {
		return r, err
	}
	if r.knownHosts == "" {
		r.knownHosts = filepath.Join(homeDir(), ".ssh", "known_hosts")
	}
	if !filepath.IsAbs(r.knownHosts) {
		return r, fmt.Errorf("known_hosts %q is a relative path: give an absolute path", r.knownHosts)
	}
	return r, nil
}

// HostKeyError says the backup host's key could not be trusted; nothing was sent to it.
type HostKeyError struct {
	HostPort, KnownHosts string
	Unknown              bool   // the host is not in known_hosts at all
	Offered              string // the key the host offered, when it was seen
}

func (e *HostKeyError) Error() string {
	if e.Unknown {
		return fmt.Sprintf("host key of %s is not in %s: cairn never accepts a host key blindly; compare the fingerprint with the one the backup host shows (ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub, run there), then add it (ssh-keyscan -p PORT HOST >> %s)", e.HostPort, e.KnownHosts, e.KnownHosts)
	}
	return fmt.Sprintf("WRONG host key for %s: it offered %s, which is not the key %s holds for it; this may be an impersonation (man in the middle), or the host was reinstalled: stop and find out which before removing the old entry", e.HostPort, e.Offered, e.KnownHosts)
}

// knownHostKeys returns the host-key callback for known_hosts and the key algorithms known for the
// host (so the handshake asks for a key type we can check). An unknown host is refused here, before
// any connection.
func knownHostKeys(t target) (ssh.HostKeyCallback, []string, error) {
	cb, err := knownhosts.New(t.knownHosts)
	if err != nil {
		return nil, nil, fmt.Errorf("read known_hosts %s: %w", t.knownHosts, err)
	}
	probe, _, _ := ed25519.GenerateKey(nil)
	dummy, _ := ssh.NewPublicKey(probe)
	addr := &net.TCPAddr{IP: net.ParseIP("0.0.0.0"), Port: t.port}
	err = cb(t.hostPort(), addr, dummy)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return nil, nil, fmt.Errorf("check known_hosts %s: %v", t.knownHosts, err)
	}
	if len(ke.Want) == 0 {
		return nil, nil, &HostKeyError{HostPort: t.hostPort(), KnownHosts: t.knownHosts, Unknown: true}
	}
	var algos []string
	for _, k := range ke.Want {
		switch k.Key.Type() {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, k.Key.Type())
		}
	}
	return cb, algos, nil
}

// dial connects with the engineer's access, checking the host key against known_hosts.
func dial(ctx context.Context, t target) (*ssh.Client, error) {
	cb, algos, err := knownHostKeys(t)
	if err != nil {
		return nil, err
	}
	auths, closeAgent, err := adminAuth(t)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	var offered string
	cfg := &ssh.ClientConfig{
		User: t.adminUser,
		Auth: auths,
		HostKeyCallback: func(h string, a net.Addr, k ssh.PublicKey) error {
			offered = k.Type() + " " + ssh.FingerprintSHA256(k)
			return cb(h, a, k)
		},
		HostKeyAlgorithms: algos,
		Timeout:           15 * time.Second,
	}
	d := net.Dialer{Timeout: 15 * time.Second}
	// sshd re-executes itself on a reload (SIGHUP): for a moment nothing listens, or a connection
	// the old process accepted is dropped. That is retried for a few seconds; anything else is not.
	var (
		conn  net.Conn
		c     ssh.Conn
		chans <-chan ssh.NewChannel
		reqs  <-chan *ssh.Request
	)
	dialFailed := false
	for restarting := time.Now().Add(10 * time.Second); ; {
		conn, err = d.DialContext(ctx, "tcp", t.hostPort())
		dialFailed = err != nil
		if err == nil {
			if c, chans, reqs, err = ssh.NewClientConn(conn, t.hostPort(), cfg); err != nil {
				conn.Close()
			}
		}
		transient := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF)
		if err == nil || !transient || time.Now().After(restarting) || ctx.Err() != nil {
			break
		}
		time.Sleep(250 * time.Millisecond)
	}
	if dialFailed {
		return nil, fmt.Errorf("connect to %s: %w", t.hostPort(), err)
	}
	if err != nil {
		var ke *knownhosts.KeyError
		if errors.As(err, &ke) {
			return nil, &HostKeyError{HostPort: t.hostPort(), KnownHosts: t.knownHosts, Offered: offered}
		}
		return nil, fmt.Errorf("log in to %s as %s: %w", t.hostPort(), t.adminUser, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// adminAuth is the engineer's identity: the given key file, or the agent and the default key files.
func adminAuth(t target) ([]ssh.AuthMethod, func(), error) {
	noop := func() {}
	loadKey := func(path string) (ssh.Signer, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s, err := ssh.ParsePrivateKey(b)
		var pm *ssh.PassphraseMissingError
		if errors.As(err, &pm) {
			return nil, fmt.Errorf("%s has a passphrase: load it into ssh-agent and leave admin-identity empty", path)
		}
		return s, err
	}
	if t.identity != "" {
		s, err := loadKey(t.identity)
		if err != nil {
			return nil, noop, fmt.Errorf("admin identity: %w", err)
		}
		return []ssh.AuthMethod{ssh.PublicKeys(s)}, noop, nil
	}
	var methods []ssh.AuthMethod
	closer := noop
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(c).Signers))
			closer = func() { c.Close() }
		}
	}
	var signers []ssh.Signer
	for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		if s, err := loadKey(filepath.Join(homeDir(), ".ssh", n)); err == nil {
			signers = append(signers, s)
		}
	}
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if len(methods) == 0 {
		return nil, noop, errors.New("no admin identity: give admin-identity, or start ssh-agent with your key")
	}
	return methods, closer, nil
}

// result is a finished command.
type result struct {
	Stdout, Stderr string
	Code           int
}

// shell runs argv somewhere: on this host, or on the backup host (as root, through sudo when the
// admin login is not root). Argv is quoted for the remote shell; nothing is ever split.
type shell interface {
	run(ctx context.Context, stdin []byte, argv ...string) (result, error)
	where() string
}

// localShell runs commands on this host as cairn's own user.
type localShell struct{}

func (localShell) where() string { return "local" }

func (localShell) run(ctx context.Context, stdin []byte, argv ...string) (result, error) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	r := result{Stdout: out.String(), Stderr: errb.String()}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.Code = ee.ExitCode()
		return r, nil
	}
	return r, err
}

// remoteShell runs commands on the backup host over one ssh connection.
type remoteShell struct {
	t      target
	client *ssh.Client
}

func (r *remoteShell) where() string { return r.t.String() }

func (r *remoteShell) run(ctx context.Context, stdin []byte, argv ...string) (result, error) {
	sess, err := r.client.NewSession()
	if err != nil {
		return result{}, err
	}
	defer sess.Close()
	var out, errb bytes.Buffer
	sess.Stdout, sess.Stderr = &out, &errb
	if stdin != nil {
		sess.Stdin = bytes.NewReader(stdin)
	}
	line := quoteArgv(argv)
	if r.t.adminUser != "root" {
		line = "sudo -n -- " + line
	}
	done := make(chan error, 1)
	go func() { done <- sess.Run(line) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = sess.Signal(ssh.SIGKILL)
		return result{}, ctx.Err()
	}
	res := result{Stdout: out.String(), Stderr: errb.String()}
	var ee *ssh.ExitError
	if errors.As(err, &ee) {
		res.Code = ee.ExitStatus()
		if r.t.adminUser != "root" && res.Code == 127 && strings.Contains(res.Stderr, "sudo") && strings.Contains(res.Stderr, "not found") {
			return res, fmt.Errorf("sudo is not installed on %s (needed to run %s as root with admin-user=%s): apt-get install sudo there and give %s password-less sudo, or run with -p admin-user=root", r.t.hostPort(), argv[0], r.t.adminUser, r.t.adminUser)
		}
		if r.t.adminUser != "root" && res.Code == 1 && strings.Contains(res.Stderr, "sudo:") {
			return res, fmt.Errorf("sudo on %s refused %s: %s (the admin login needs password-less sudo there, or run with -p admin-user=root)", r.t.hostPort(), argv[0], strings.TrimSpace(res.Stderr))
		}
		return res, nil
	}
	return res, err
}

// connect opens the remote shell; the caller closes it.
func connect(ctx context.Context, env *steps.Env, t *Target) (*remoteShell, func(), error) {
	rt, err := t.resolve(env)
	if err != nil {
		return nil, nil, err
	}
	c, err := dial(ctx, rt)
	if err != nil {
		return nil, nil, err
	}
	return &remoteShell{t: rt, client: c}, func() { c.Close() }, nil
}

// quoteArgv quotes each word for a POSIX shell.
func quoteArgv(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shq(a)
	}
	return strings.Join(q, " ")
}

// shq quotes one word for a POSIX shell (plain words stay as they are, for readable plans).
func shq(s string) string {
	if s == "" {
		return "''"
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%^", r)) {
			return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
		}
	}
	return s
}

// mustRun runs argv and fails on a non-zero exit, with the command's stderr in the error.
func mustRun(ctx context.Context, sh shell, stdin []byte, argv ...string) (string, error) {
	r, err := sh.run(ctx, stdin, argv...)
	if err != nil {
		return "", err
	}
	if r.Code != 0 {
		return r.Stdout, fmt.Errorf("%s on %s exited %d: %s", argv[0], sh.where(), r.Code, strings.TrimSpace(r.Stderr))
	}
	return r.Stdout, nil
}
