package sshsteps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// SSHDConfig is the `sshd-config` kind: one sshd_config keyword set on the backup host, the careful
// way. sshd keeps the FIRST value it reads for a keyword, and Debian's sshd_config starts with
// `Include /etc/ssh/sshd_config.d/*.conf`, so a line appended at the end can silently do nothing;
// cairn therefore puts a marked two-line block at the very top of the file. The new file is written
// as a copy next to the original, validated with `sshd -t -f <copy>`, and only then renamed into
// place (a backup copy kept) and sshd reloaded; success is judged by the *effective* value from
// `sshd -T`. A change sshd -t rejects puts nothing in place and reloads nothing. Rollback removes
// exactly the block (the file is then byte for byte as before), validates, and reloads.
type SSHDConfig struct {
	Target  `yaml:",inline"`
	File    ref.Template `yaml:"file"`    // default /etc/ssh/sshd_config
	Keyword ref.Template `yaml:"keyword"` // e.g. PermitRootLogin
	Value   ref.Template `yaml:"value"`   // e.g. forced-commands-only
	Reload  ref.Template `yaml:"reload"`  // a command line on the backup host; default `systemctl reload ssh`
	SSHD    ref.Template `yaml:"sshd"`    // default /usr/sbin/sshd
	// Match is sshd -T's -C connection spec (user=root,host=…,addr=…) so Match blocks are applied
	// when the effective value is read; empty reads the global value.
	Match ref.Template `yaml:"match"`
	Label ref.Template `yaml:"label"`
}

// Validate checks presence.
func (s *SSHDConfig) Validate() error {
	if s.Host.IsZero() || s.Keyword.IsZero() || s.Value.IsZero() {
		return errors.New("give `host:`, `keyword:` and `value:`")
	}
	return nil
}

var keywordRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9]*$`)

type sshdParams struct {
	file, keyword, value, reload, sshd, match, label string
}

func (s *SSHDConfig) params(env *steps.Env) (sshdParams, error) {
	var p sshdParams
	for _, f := range []struct {
		t   ref.Template
		dst *string
		def string
	}{{s.File, &p.file, "/etc/ssh/sshd_config"}, {s.Keyword, &p.keyword, ""}, {s.Value, &p.value, ""},
		{s.Reload, &p.reload, "systemctl reload ssh"}, {s.SSHD, &p.sshd, "/usr/sbin/sshd"}, {s.Match, &p.match, ""}, {s.Label, &p.label, env.StepID}} {
		v, err := env.Text(f.t)
		if err != nil {
			return p, err
		}
		if v == "" {
			v = f.def
		}
		*f.dst = v
	}
	if !path.IsAbs(p.file) || path.Clean(p.file) != p.file {
		return p, fmt.Errorf("sshd-config %q must be an absolute, clean path", p.file)
	}
	if !keywordRE.MatchString(p.keyword) {
		return p, fmt.Errorf("keyword %q is not an sshd_config keyword", p.keyword)
	}
	if p.value == "" || strings.ContainsAny(p.value, "\n\r#") {
		return p, fmt.Errorf("value %q must be one line without #", p.value)
	}
	return p, nil
}

func (p sshdParams) block() string {
	return fmt.Sprintf("# cairn:%s — set by cairn at the top: sshd keeps the first value it reads (remove these 2 lines to undo)\n%s %s\n", p.label, p.keyword, p.value)
}

// Describe lists the actions.
func (s *SSHDConfig) Describe(env *steps.Env) []steps.Action {
	file := orDefault(env.Describe(s.File), "/etc/ssh/sshd_config")
	sshd := orDefault(env.Describe(s.SSHD), "/usr/sbin/sshd")
	return []steps.Action{{Kind: steps.ActFile, Target: s.Target.describe(env), Text: fmt.Sprintf(
		"1. cp -p %[1]s %[1]s.cairn-XXXXXX, with at its top:\n     %[2]s %[3]s\n2. %[4]s -t -f <copy>   (rejected → the copy is removed; nothing in place, nothing reloaded)\n3. cp -p %[1]s %[1]s.cairn-backup-<time>; mv <copy> %[1]s\n4. %[5]s\n5. %[4]s -T -f %[1]s → %[6]s must be %[3]s (the effective value)",
		file, env.Describe(s.Keyword), env.Describe(s.Value), sshd, orDefault(env.Describe(s.Reload), "systemctl reload ssh"), strings.ToLower(env.Describe(s.Keyword)))}}
}

// effective reads the keyword's effective value from `sshd -T`.
func effective(ctx context.Context, sh shell, p sshdParams, file string) (string, error) {
	argv := []string{p.sshd, "-T", "-f", file}
	if p.match != "" {
		argv = append(argv, "-C", p.match)
	}
	out, err := mustRun(ctx, sh, nil, argv...)
	if err != nil {
		return "", err
	}
	want := strings.ToLower(p.keyword)
	for _, line := range strings.Split(out, "\n") {
		k, v, _ := strings.Cut(line, " ")
		if k == want {
			return v, nil
		}
	}
	return "", fmt.Errorf("sshd -T does not show %s", p.keyword)
}

// Check reads the effective value.
func (s *SSHDConfig) Check(ctx context.Context, env *steps.Env) steps.Check {
	p, err := s.params(env)
	if err != nil {
		return blockedOrUnknown(err, "fix the step's parameters")
	}
	sh, closeFn, err := connect(ctx, env, &s.Target)
	if err != nil {
		return blockedOrUnknown(err, "check host, port, admin-user, admin-identity and known-hosts")
	}
	defer closeFn()
	data, exists, err := readFile(ctx, sh, p.file)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if !exists {
		return steps.BlockedBy(p.file+" does not exist on the backup host", "give -p sshd-config=<path of the sshd_config the daemon reads>")
	}
	eff, err := effective(ctx, sh, p, p.file)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if strings.EqualFold(eff, p.value) {
		return steps.AlreadyDone("sshd -T: %s %s (effective)", strings.ToLower(p.keyword), eff)
	}
	if bytes.HasPrefix(data, []byte(p.block())) {
		return steps.BlockedBy(fmt.Sprintf("cairn's block is at the top of %s, yet sshd -T says %s %s", p.file, strings.ToLower(p.keyword), eff),
			"a Match block or -f include overrides it: read `sshd -T` and the Match blocks by hand")
	}
	return steps.ReadyTo(steps.Update, "sshd -T says %s %s; will set %s at the top of %s", strings.ToLower(p.keyword), eff, p.value, p.file)
}

// putInPlace validates content as a copy of file and renames it into place; on rejection the copy
// is removed and the error says sshd -t's complaint.
func putInPlace(ctx context.Context, env *steps.Env, sh shell, p sshdParams, content []byte) error {
	tmp, err := mustRun(ctx, sh, nil, "mktemp", p.file+".cairn-XXXXXX")
	if err != nil {
		return err
	}
	tmp = strings.TrimSpace(tmp)
	cleanup := func() { _, _ = sh.run(context.WithoutCancel(ctx), nil, "rm", "-f", "--", tmp) }
	if _, err := mustRun(ctx, sh, content, "sh", "-c", `cp -p -- "$1" "$2" && cat > "$2"`, "sh", p.file, tmp); err != nil {
		cleanup()
		return err
	}
	r, err := sh.run(ctx, nil, p.sshd, "-t", "-f", tmp)
	if err != nil {
		cleanup()
		return err
	}
	if r.Code != 0 {
		cleanup()
		return fmt.Errorf("sshd -t rejected the new %s: %s — nothing was put in place and sshd was not reloaded", p.file, strings.TrimSpace(r.Stderr+r.Stdout))
	}
	env.Info("sshd -t -f " + tmp + ": ok")
	bk, err := backupCopy(ctx, sh, p.file, env.Now())
	if err != nil {
		cleanup()
		return err
	}
	env.Info("backup copy: " + bk)
	if _, err := mustRun(ctx, sh, nil, "mv", "-f", "--", tmp, p.file); err != nil {
		cleanup()
		return err
	}
	if _, err := mustRun(ctx, sh, nil, "sh", "-c", p.reload); err != nil {
		return fmt.Errorf("%s is in place but reloading sshd failed (%w): the running sshd still has the old settings; reload it by hand", p.file, err)
	}
	env.Info("reloaded sshd: " + p.reload)
	if rs, ok := sh.(*remoteShell); ok {
		// sshd re-executes itself on reload: make sure it answers again and still lets the
		// engineer in, before calling this done.
		deadline := time.Now().Add(20 * time.Second)
		for {
			c, err := dial(ctx, rs.t)
			if err == nil {
				c.Close()
				env.Info("sshd answers after the reload; a new login as " + rs.t.adminUser + " works")
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("after the reload a new login to %s fails: %w — keep this session open and check sshd on the backup host", rs.t.hostPort(), err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Apply writes, validates, puts in place, reloads.
func (s *SSHDConfig) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	p, err := s.params(env)
	if err != nil {
		return nil, err
	}
	sh, closeFn, err := connect(ctx, env, &s.Target)
	if err != nil {
		return nil, err
	}
	defer closeFn()
	data, exists, err := readFile(ctx, sh, p.file)
	if err != nil {
		return nil, err
	}
	if !exists {
		return nil, fmt.Errorf("%s does not exist on the backup host: nothing changed", p.file)
	}
	if bytes.HasPrefix(data, []byte(p.block())) {
		return nil, fmt.Errorf("cairn's block is already at the top of %s but is not effective: nothing changed", p.file)
	}
	content := append([]byte(p.block()), data...)
	if err := putInPlace(ctx, env, sh, p, content); err != nil {
		return nil, err
	}
	eff, err := effective(ctx, sh, p, p.file)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("effective", eff), nil
}

// OutputNames declares the outputs.
func (s *SSHDConfig) OutputNames() []string { return []string{"effective"} }

// Verify checks the effective value.
func (s *SSHDConfig) Verify(ctx context.Context, env *steps.Env) error {
	p, err := s.params(env)
	if err != nil {
		return err
	}
	sh, closeFn, err := connect(ctx, env, &s.Target)
	if err != nil {
		return err
	}
	defer closeFn()
	eff, err := effective(ctx, sh, p, p.file)
	if err != nil {
		return err
	}
	if !strings.EqualFold(eff, p.value) {
		return &steps.VerifyError{What: "sshd -T " + strings.ToLower(p.keyword), Expected: p.value, Found: eff}
	}
	return nil
}

// Rollback removes the block, validates and reloads.
func (s *SSHDConfig) Rollback(ctx context.Context, env *steps.Env) error {
	p, err := s.params(env)
	if err != nil {
		return err
	}
	sh, closeFn, err := connect(ctx, env, &s.Target)
	if err != nil {
		return err
	}
	defer closeFn()
	data, exists, err := readFile(ctx, sh, p.file)
	if err != nil || !exists {
		return err
	}
	if !bytes.HasPrefix(data, []byte(p.block())) {
		env.Info("cairn's block is not at the top of " + p.file + ": nothing to undo")
		return nil
	}
	return putInPlace(ctx, env, sh, p, data[len(p.block()):])
}
