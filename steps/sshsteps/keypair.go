package sshsteps

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Keypair is the `ssh-keypair` kind: an ed25519 key pair with an empty passphrase (for cron) at
// Path (private, 0600) and Path.pub (0644), owned by Owner. A key already there is reused only when
// it is a usable key of that kind whose .pub matches it; anything else there is never overwritten.
type Keypair struct {
	Path  ref.Template `yaml:"path"`
	Owner ref.Template `yaml:"owner"` // local user owning the key (default: cairn's user)
	// Label goes into the key's comment ("cairn:<label>"), so rollback removes only a key cairn made.
	Label ref.Template `yaml:"label"`
}

// Validate checks what can be checked before parameters are known.
func (k *Keypair) Validate() error {
	if k.Path.IsZero() {
		return errors.New("give `path:` — where the private key goes, e.g. /root/.ssh/backup_ed25519")
	}
	return nil
}

// OutputNames declares the outputs.
func (k *Keypair) OutputNames() []string { return []string{"public_key", "fingerprint"} }

type keyParams struct {
	path, owner, label string
	uid, gid           int
}

func (k *Keypair) params(env *steps.Env) (keyParams, error) {
	var p keyParams
	var err error
	if p.path, err = env.Text(k.Path); err != nil {
		return p, err
	}
	if !filepath.IsAbs(p.path) || filepath.Clean(p.path) != p.path {
		return p, fmt.Errorf("key path %q must be an absolute, clean path (e.g. /root/.ssh/backup_ed25519)", p.path)
	}
	if strings.ContainsAny(p.path, " \t\n'\"\\") {
		return p, fmt.Errorf("key path %q holds a space or quote: cron and rsync -e split on those; choose a plain path", p.path)
	}
	if p.owner, err = env.Text(k.Owner); err != nil {
		return p, err
	}
	u, err := user.Current()
	if p.owner != "" {
		u, err = user.Lookup(p.owner)
	}
	if err != nil {
		return p, fmt.Errorf("key owner: %w", err)
	}
	p.owner = u.Username
	p.uid, _ = strconv.Atoi(u.Uid)
	p.gid, _ = strconv.Atoi(u.Gid)
	if p.label, err = env.Text(k.Label); err != nil {
		return p, err
	}
	if p.label == "" {
		p.label = env.StepID
	}
	return p, nil
}

// Describe says what will be created.
func (k *Keypair) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActFile, Target: "local", Text: fmt.Sprintf(
		"create ed25519 key pair %s (0600) and %s.pub (0644), empty passphrase (cron uses it unattended), owner %s\n(an existing key there is reused only if it is an unencrypted ed25519 key matching its .pub; never overwritten)",
		env.Describe(k.Path), env.Describe(k.Path), orDefault(env.Describe(k.Owner), "cairn's user"))}}
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// existing inspects what is at the key path: "" when nothing, else a reason it cannot be used
// (usable=false) or the public key (usable=true).
func inspectKey(p keyParams) (present bool, pub ssh.PublicKey, comment, problem string) {
	for _, f := range []string{p.path, p.path + ".pub"} {
		if fi, err := os.Lstat(f); err == nil && fi.Mode()&os.ModeSymlink != 0 {
			to, _ := os.Readlink(f)
			return true, nil, "", f + " is a symbolic link to " + to + ": cairn reuses only a key that is its own file at the path, never another key it points to"
		}
	}
	priv, err := os.ReadFile(p.path)
	if errors.Is(err, os.ErrNotExist) {
		if _, err := os.Lstat(p.path + ".pub"); err == nil {
			return true, nil, "", p.path + ".pub exists without its private key"
		}
		return false, nil, "", ""
	}
	if err != nil {
		return true, nil, "", err.Error()
	}
	signer, err := ssh.ParsePrivateKey(priv)
	var pm *ssh.PassphraseMissingError
	if errors.As(err, &pm) {
		return true, nil, "", p.path + " has a passphrase: cron cannot use it unattended"
	}
	if err != nil {
		return true, nil, "", p.path + " is not a private key cairn can read: " + err.Error()
	}
	if signer.PublicKey().Type() != ssh.KeyAlgoED25519 {
		return true, nil, "", p.path + " is a " + signer.PublicKey().Type() + " key, not ed25519"
	}
	pubText, err := os.ReadFile(p.path + ".pub")
	if err != nil {
		return true, nil, "", p.path + ".pub is missing or unreadable: " + err.Error()
	}
	pk, c, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil || !bytes.Equal(pk.Marshal(), signer.PublicKey().Marshal()) {
		return true, nil, "", p.path + ".pub does not match " + p.path
	}
	fi, err := os.Stat(p.path)
	if err != nil {
		return true, nil, "", err.Error()
	}
	st := fi.Sys().(*syscall.Stat_t)
	if fi.Mode().Perm() != 0o600 || int(st.Uid) != p.uid {
		return true, nil, "", fmt.Sprintf("%s has mode %04o owner uid %d; want 0600 owned by %s", p.path, fi.Mode().Perm(), st.Uid, p.owner)
	}
	return true, signer.PublicKey(), c, ""
}

// Check reports whether a usable key is there.
func (k *Keypair) Check(ctx context.Context, env *steps.Env) steps.Check {
	p, err := k.params(env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.BlockedBy(err.Error(), "fix the key path or owner")
	}
	present, pub, _, problem := inspectKey(p)
	switch {
	case !present:
		if fi, err := os.Stat(filepath.Dir(p.path)); err != nil || !fi.IsDir() {
			return steps.ReadyTo(steps.Create, "no key at %s; will create it (and %s, 0700)", p.path, filepath.Dir(p.path))
		}
		return steps.ReadyTo(steps.Create, "no key at %s; will create one", p.path)
	case problem != "":
		return steps.BlockedBy(problem, "cairn never overwrites a key: choose another path with -p key=…, or move the old key away yourself")
	default:
		return steps.AlreadyDone("%s is an ed25519 key without passphrase (%s): reused", p.path, ssh.FingerprintSHA256(pub))
	}
}

// Apply creates the key pair, refusing to replace any file.
func (k *Keypair) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	p, err := k.params(env)
	if err != nil {
		return nil, err
	}
	if present, pub, _, problem := inspectKey(p); present {
		if problem != "" {
			return nil, errors.New(problem + "; nothing was changed")
		}
		return keyOutputs(pub), nil
	}
	dir := filepath.Dir(p.path)
	if _, err := os.Stat(dir); errors.Is(err, os.ErrNotExist) {
		if err := os.Mkdir(dir, 0o700); err != nil {
			return nil, err
		}
		if err := os.Chown(dir, p.uid, p.gid); err != nil {
			return nil, err
		}
	}
	pubKey, privKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	comment := "cairn:" + p.label
	block, err := ssh.MarshalPrivateKey(privKey, comment)
	if err != nil {
		return nil, err
	}
	sshPub, err := ssh.NewPublicKey(pubKey)
	if err != nil {
		return nil, err
	}
	pubLine := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))) + " " + comment + "\n"
	if err := fsutil.CreateFileAs(p.path, pem.EncodeToMemory(block), 0o600, p.uid, p.gid); err != nil {
		return nil, err
	}
	if err := fsutil.CreateFileAs(p.path+".pub", []byte(pubLine), 0o644, p.uid, p.gid); err != nil {
		_ = os.Remove(p.path)
		return nil, err
	}
	env.Info(fmt.Sprintf("created %s (%s)", p.path, ssh.FingerprintSHA256(sshPub)))
	return keyOutputs(sshPub), nil
}

func keyOutputs(pub ssh.PublicKey) steps.Outputs {
	return steps.Outputs{}.
		Set("public_key", strings.TrimSpace(string(ssh.MarshalAuthorizedKey(pub)))).
		Set("fingerprint", ssh.FingerprintSHA256(pub))
}

// Verify re-reads the key from disk.
func (k *Keypair) Verify(ctx context.Context, env *steps.Env) error {
	p, err := k.params(env)
	if err != nil {
		return err
	}
	present, _, _, problem := inspectKey(p)
	if !present || problem != "" {
		return &steps.VerifyError{What: "key pair " + p.path, Expected: "an unencrypted ed25519 key, 0600, matching .pub", Found: orDefault(problem, "no key")}
	}
	return nil
}

// Rollback removes the key pair only if cairn made it for this label; a key that was there before
// is left alone.
func (k *Keypair) Rollback(ctx context.Context, env *steps.Env) error {
	p, err := k.params(env)
	if err != nil {
		return err
	}
	present, _, comment, problem := inspectKey(p)
	if !present {
		return nil
	}
	if problem != "" || comment != "cairn:"+p.label {
		return steps.NotReversible("%s was not made by this step (comment %q): cairn never deletes a key it did not create", p.path, comment)
	}
	if err := os.Remove(p.path); err != nil {
		return err
	}
	if err := os.Remove(p.path + ".pub"); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	env.Info("removed " + p.path + " and its .pub")
	return nil
}
