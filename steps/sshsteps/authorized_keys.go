package sshsteps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"regexp"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// AuthorizedKey is the `ssh-authorized-key` kind: one restricted entry
//
//	command="…",from="…",restrict ssh-ed25519 AAAA… cairn:<label>
//
// appended to a login's authorized_keys on the backup host. The file is never rewritten by apply:
// the entry is appended (O_APPEND), every existing byte stays, a backup copy is made first, and
// the file and its directory get mode 0600 / 0700 and the login as owner (sshd's StrictModes).
// Rollback removes exactly the added line (and what apply created or changed, as the line's
// comment records), so the file is byte for byte as it was.
type AuthorizedKey struct {
	Target  `yaml:",inline"`
	User    ref.Template `yaml:"user"`    // the login the key is for
	File    ref.Template `yaml:"file"`    // default ~user/.ssh/authorized_keys
	Key     ref.Template `yaml:"key"`     // the private key's path (this host); its .pub is installed
	Command ref.Template `yaml:"command"` // the forced command
	From    ref.Template `yaml:"from"`    // from= pattern list (required: a stolen key must not work from anywhere)
	// Restrict is "restrict" (default; OpenSSH ≥ 7.2) or "explicit" (no-pty,no-port-forwarding,
	// no-agent-forwarding,no-X11-forwarding,no-user-rc for older servers).
	Restrict string       `yaml:"restrict"`
	Label    ref.Template `yaml:"label"`
}

// Validate checks the fields' presence.
func (a *AuthorizedKey) Validate() error {
	var errs []error
	if a.Host.IsZero() {
		errs = append(errs, errors.New("give `host:`"))
	}
	if a.User.IsZero() || a.Key.IsZero() || a.Command.IsZero() || a.From.IsZero() {
		errs = append(errs, errors.New("give `user:`, `key:`, `command:` and `from:` (a forced command and a source restriction are the point of this entry)"))
	}
	if a.Restrict != "" && a.Restrict != "restrict" && a.Restrict != "explicit" {
		errs = append(errs, fmt.Errorf("restrict: %q: use restrict or explicit", a.Restrict))
	}
	return errors.Join(errs...)
}

var fromPattern = regexp.MustCompile(`^[A-Za-z0-9.:*?!,/_\-\[\]]+$`)

type akParams struct {
	user, file, label, options string
	pub                        ssh.PublicKey
	entryPrefix                string // options + " " + type + " " + base64 (no comment)
}

func (a *AuthorizedKey) params(env *steps.Env) (akParams, error) {
	var p akParams
	var err error
	if p.user, err = env.Text(a.User); err != nil {
		return p, err
	}
	if p.file, err = env.Text(a.File); err != nil {
		return p, err
	}
	if p.file != "" && (!path.IsAbs(p.file) || path.Clean(p.file) != p.file) {
		return p, fmt.Errorf("authorized_keys path %q must be an absolute, clean path", p.file)
	}
	keyPath, err := env.Text(a.Key)
	if err != nil {
		return p, err
	}
	if !path.IsAbs(keyPath) {
		return p, fmt.Errorf("key path %q must be absolute", keyPath)
	}
	b, err := os.ReadFile(keyPath + ".pub")
	if err != nil {
		return p, fmt.Errorf("read the public key: %w", err)
	}
	if p.pub, _, _, _, err = ssh.ParseAuthorizedKey(b); err != nil {
		return p, fmt.Errorf("%s.pub: %w", keyPath, err)
	}
	cmd, err := env.Text(a.Command)
	if err != nil {
		return p, err
	}
	if cmd == "" || strings.ContainsAny(cmd, "\n\r") {
		return p, errors.New("the forced command must be one non-empty line")
	}
	from, err := env.Text(a.From)
	if err != nil {
		return p, err
	}
	if !fromPattern.MatchString(from) {
		return p, fmt.Errorf("from %q is not an sshd pattern list (addresses, host names, CIDR, * and ?, comma-separated, no spaces)", from)
	}
	if p.label, err = env.Text(a.Label); err != nil {
		return p, err
	}
	if p.label == "" {
		p.label = env.StepID
	}
	restrict := "restrict"
	if a.Restrict == "explicit" {
		restrict = "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc"
	}
	p.options = fmt.Sprintf(`command="%s",from="%s",%s`, strings.ReplaceAll(cmd, `"`, `\"`), from, restrict)
	p.entryPrefix = p.options + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(p.pub)))
	return p, nil
}

// marker is the comment cairn puts on its entry: "cairn:<label>" and what apply had to change
// besides appending, so rollback can undo exactly that, from the file alone.
type marker struct {
	label     string
	newline   bool   // apply added a newline because the file did not end with one
	newFile   bool   // apply created the file
	newDir    bool   // apply created the directory
	fileMode  uint32 // the file's mode before apply, when apply changed it (0: unchanged)
	dirMode   uint32
	fileOwner string // "uid:gid" before apply, when apply changed it
	dirOwner  string
}

func (m marker) String() string {
	s := "cairn:" + m.label
	var f []string
	if m.newline {
		f = append(f, "nl")
	}
	if m.newFile {
		f = append(f, "newfile")
	}
	if m.newDir {
		f = append(f, "newdir")
	}
	if m.fileMode != 0 {
		f = append(f, fmt.Sprintf("fmode=%04o", m.fileMode))
	}
	if m.dirMode != 0 {
		f = append(f, fmt.Sprintf("dmode=%04o", m.dirMode))
	}
	if m.fileOwner != "" {
		f = append(f, "fown="+m.fileOwner)
	}
	if m.dirOwner != "" {
		f = append(f, "down="+m.dirOwner)
	}
	if len(f) > 0 {
		s += ";" + strings.Join(f, ";")
	}
	return s
}

func parseMarker(comment string) (marker, bool) {
	if !strings.HasPrefix(comment, "cairn:") {
		return marker{}, false
	}
	parts := strings.Split(strings.TrimPrefix(comment, "cairn:"), ";")
	m := marker{label: parts[0]}
	for _, f := range parts[1:] {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "nl":
			m.newline = true
		case "newfile":
			m.newFile = true
		case "newdir":
			m.newDir = true
		case "fmode":
			fmt.Sscanf(v, "%o", &m.fileMode)
		case "dmode":
			fmt.Sscanf(v, "%o", &m.dirMode)
		case "fown":
			m.fileOwner = v
		case "down":
			m.dirOwner = v
		}
	}
	return m, true
}

// found is this key's line in the file.
type found struct {
	lineNo     int    // 1-based
	start, end int    // byte range of the line including its "\n"
	text       string // the line without "\n"
	ours       bool   // exactly our options and key, with our label
	mark       marker
}

// findKey finds every line carrying this key (sshd uses the first one that matches).
func findKey(data []byte, p akParams) []found {
	var out []found
	blob := p.pub.Marshal()
	off := 0
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		start := off
		off += len(line)
		text := strings.TrimRight(string(line), "\n")
		if len(text) == 0 {
			continue
		}
		pk, comment, _, _, err := ssh.ParseAuthorizedKey([]byte(text))
		if err != nil || !bytes.Equal(pk.Marshal(), blob) {
			continue
		}
		f := found{lineNo: i + 1, start: start, end: off, text: text}
		if m, ok := parseMarker(comment); ok && m.label == p.label && strings.HasPrefix(text, p.entryPrefix+" ") {
			f.ours, f.mark = true, m
		}
		out = append(out, f)
	}
	return out
}

func (a *AuthorizedKey) resolveFile(ctx context.Context, sh shell, p *akParams) (uid, gid int, err error) {
	uid, gid, home, err := lookupUser(ctx, sh, p.user)
	if err != nil {
		return 0, 0, err
	}
	if p.file == "" {
		p.file = path.Join(home, ".ssh", "authorized_keys")
	}
	return uid, gid, nil
}

// Describe shows the entry.
func (a *AuthorizedKey) Describe(env *steps.Env) []steps.Action {
	file := env.Describe(a.File)
	if file == "" {
		file = "~" + env.Describe(a.User) + "/.ssh/authorized_keys"
	}
	restrict := "restrict"
	if a.Restrict == "explicit" {
		restrict = "no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc"
	}
	return []steps.Action{{Kind: steps.ActFile, Target: a.Target.describe(env), Text: fmt.Sprintf(
		"append to %s (backup copy first; existing lines untouched; 0600, dir 0700, owner %s):\ncommand=\"%s\",from=\"%s\",%s <public key of %s> cairn:<label>",
		file, env.Describe(a.User), env.Describe(a.Command), env.Describe(a.From), restrict, env.Describe(a.Key))}}
}

func blockedOrUnknown(err error, fix string) steps.Check {
	if errors.Is(err, ref.ErrUnknown) {
		return steps.CannotTell("%v", err)
	}
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return steps.BlockedBy(err.Error(), "verify the backup host's key out of band, then fix known_hosts")
	}
	return steps.BlockedBy(err.Error(), fix)
}

// Check reads the file on the backup host.
func (a *AuthorizedKey) Check(ctx context.Context, env *steps.Env) steps.Check {
	p, err := a.params(env)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return steps.CannotTell("%v (the key pair step makes it)", err)
		}
		return blockedOrUnknown(err, "fix the step's parameters")
	}
	sh, closeFn, err := connect(ctx, env, &a.Target)
	if err != nil {
		return blockedOrUnknown(err, "check host, port, admin-user, admin-identity and known-hosts")
	}
	defer closeFn()
	if _, _, err := a.resolveFile(ctx, sh, &p); err != nil {
		return steps.BlockedBy(err.Error(), "create the backup login first, or fix -p user=…")
	}
	data, exists, err := readFile(ctx, sh, p.file)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !exists {
		return steps.ReadyTo(steps.Create, "%s does not exist: will create it with the entry", p.file)
	}
	fs := findKey(data, p)
	for _, f := range fs {
		if !f.ours {
			return steps.BlockedBy(fmt.Sprintf("%s line %d already holds this key with other options or comment: %s", p.file, f.lineNo, f.text),
				"sshd uses the first matching line, so a second entry would be ignored: remove that line by hand (after a backup) and run again")
		}
	}
	if len(fs) == 1 {
		return steps.AlreadyDone("%s line %d is the entry", p.file, fs[0].lineNo)
	}
	if len(fs) > 1 {
		return steps.BlockedBy(fmt.Sprintf("%s holds this key %d times", p.file, len(fs)), "keep one line by hand")
	}
	return steps.ReadyTo(steps.Update, "will append the entry to %s (%d bytes kept as they are)", p.file, len(data))
}

// Apply appends the entry.
func (a *AuthorizedKey) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	p, err := a.params(env)
	if err != nil {
		return nil, err
	}
	sh, closeFn, err := connect(ctx, env, &a.Target)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	uid, gid, err := a.resolveFile(ctx, sh, &p)
	if err != nil {
		return nil, err
	}
	own := fmt.Sprintf("%d:%d", uid, gid)
	m := marker{label: p.label}
	dir := path.Dir(p.file)
	di, err := stat(ctx, sh, dir)
	if err != nil {
		return nil, err
	}
	if !di.Exists {
		if _, err := mustRun(ctx, sh, nil, "sh", "-c", `mkdir -m 0700 -- "$1" && chown "$2" "$1"`, "sh", dir, own); err != nil {
			return nil, err
		}
		m.newDir = true
	} else if di.Mode != 0o700 || di.UID != uid || di.GID != gid {
		// StrictModes needs the directory not writable by others; 0700 and the login as owner.
		if di.UID != uid || di.GID != gid {
			m.dirOwner = fmt.Sprintf("%d:%d", di.UID, di.GID)
		}
		if di.Mode != 0o700 {
			m.dirMode = di.Mode
		}
		if _, err := mustRun(ctx, sh, nil, "sh", "-c", `chown "$2" "$1" && chmod 0700 "$1"`, "sh", dir, own); err != nil {
			return nil, err
		}
	}
	data, exists, err := readFile(ctx, sh, p.file)
	if err != nil {
		return nil, err
	}
	if fs := findKey(data, p); len(fs) > 0 {
		if len(fs) == 1 && fs[0].ours {
			return steps.Outputs{}.Set("file", p.file).Set("entry", fs[0].text), nil
		}
		return nil, fmt.Errorf("%s line %d already holds this key: nothing changed", p.file, fs[0].lineNo)
	}
	if !exists {
		m.newFile = true
		entry := p.entryPrefix + " " + m.String()
		if err := createFile(ctx, sh, p.file, []byte(entry+"\n"), 0o600, uid, gid); err != nil {
			return nil, err
		}
		env.Info("created " + p.file + " with the entry")
		return steps.Outputs{}.Set("file", p.file).Set("entry", entry), nil
	}
	fi, err := stat(ctx, sh, p.file)
	if err != nil {
		return nil, err
	}
	if fi.Mode != 0o600 {
		m.fileMode = fi.Mode
	}
	if fi.UID != uid || fi.GID != gid {
		m.fileOwner = fmt.Sprintf("%d:%d", fi.UID, fi.GID)
	}
	bk, err := backupCopy(ctx, sh, p.file, env.Now())
	if err != nil {
		return nil, err
	}
	env.Info("backup copy: " + bk)
	add := []byte{}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		m.newline = true
		add = append(add, '\n')
	}
	entry := p.entryPrefix + " " + m.String()
	add = append(add, entry+"\n"...)
	if err := appendFile(ctx, sh, p.file, add); err != nil {
		return nil, err
	}
	if m.fileMode != 0 || m.fileOwner != "" {
		if _, err := mustRun(ctx, sh, nil, "sh", "-c", `chown "$2" "$1" && chmod 0600 "$1"`, "sh", p.file, own); err != nil {
			return nil, err
		}
	}
	env.Info(fmt.Sprintf("appended the entry to %s (the %d bytes before it unchanged)", p.file, len(data)))
	return steps.Outputs{}.Set("file", p.file).Set("entry", entry).Set("backup", bk), nil
}

// OutputNames declares the outputs.
func (a *AuthorizedKey) OutputNames() []string { return []string{"file", "entry", "backup"} }

// Verify re-reads the file and its modes.
func (a *AuthorizedKey) Verify(ctx context.Context, env *steps.Env) error {
	p, err := a.params(env)
	if err != nil {
		return err
	}
	sh, closeFn, err := connect(ctx, env, &a.Target)
	if err != nil {
		return err
	}
	defer closeFn()
	uid, _, err := a.resolveFile(ctx, sh, &p)
	if err != nil {
		return err
	}
	data, _, err := readFile(ctx, sh, p.file)
	if err != nil {
		return err
	}
	fs := findKey(data, p)
	if len(fs) != 1 || !fs[0].ours {
		return &steps.VerifyError{What: p.file, Expected: "one entry " + p.entryPrefix, Found: fmt.Sprintf("%d lines with this key", len(fs))}
	}
	fi, err := stat(ctx, sh, p.file)
	if err != nil {
		return err
	}
	di, err := stat(ctx, sh, path.Dir(p.file))
	if err != nil {
		return err
	}
	if fi.Mode&0o022 != 0 || fi.UID != uid || di.Mode&0o022 != 0 || (di.UID != uid && di.UID != 0) {
		return &steps.VerifyError{What: "modes of " + p.file, Expected: "file 0600 and dir 0700 owned by " + p.user,
			Found: fmt.Sprintf("file %04o uid %d, dir %04o uid %d", fi.Mode, fi.UID, di.Mode, di.UID)}
	}
	return nil
}

// Rollback removes exactly the line apply added (and undoes what its marker says apply changed).
func (a *AuthorizedKey) Rollback(ctx context.Context, env *steps.Env) error {
	p, err := a.params(env)
	if err != nil {
		return err
	}
	sh, closeFn, err := connect(ctx, env, &a.Target)
	if err != nil {
		return err
	}
	defer closeFn()
	if _, _, err := a.resolveFile(ctx, sh, &p); err != nil {
		return err
	}
	data, exists, err := readFile(ctx, sh, p.file)
	if err != nil || !exists {
		return err
	}
	var f *found
	for _, x := range findKey(data, p) {
		if x.ours {
			x := x
			f = &x
		}
	}
	if f == nil {
		env.Info("no entry of ours in " + p.file + ": nothing to remove")
		return nil
	}
	fi, err := stat(ctx, sh, p.file)
	if err != nil {
		return err
	}
	start := f.start
	if f.mark.newline && start > 0 && data[start-1] == '\n' {
		start--
	}
	rest := append(append([]byte{}, data[:start]...), data[f.end:]...)
	dir := path.Dir(p.file)
	if f.mark.newFile && len(rest) == 0 {
		if _, err := mustRun(ctx, sh, nil, "rm", "-f", "--", p.file); err != nil {
			return err
		}
	} else {
		mode, uid, gid := fi.Mode, fi.UID, fi.GID
		if f.mark.fileMode != 0 {
			mode = f.mark.fileMode
		}
		if f.mark.fileOwner != "" {
			fmt.Sscanf(f.mark.fileOwner, "%d:%d", &uid, &gid)
		}
		if err := replaceFile(ctx, sh, p.file, rest, mode, uid, gid); err != nil {
			return err
		}
	}
	if f.mark.newDir {
		_, _ = sh.run(ctx, nil, "rmdir", "--", dir) // only if empty (backups are kept)
	} else if f.mark.dirMode != 0 || f.mark.dirOwner != "" {
		if f.mark.dirOwner != "" {
			if _, err := mustRun(ctx, sh, nil, "chown", f.mark.dirOwner, "--", dir); err != nil {
				return err
			}
		}
		if f.mark.dirMode != 0 {
			if _, err := mustRun(ctx, sh, nil, "chmod", fmt.Sprintf("%04o", f.mark.dirMode), "--", dir); err != nil {
				return err
			}
		}
	}
	env.Info(fmt.Sprintf("removed line %d (the entry) from %s", f.lineNo, p.file))
	return nil
}
