package sshsteps

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"sort"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Proof is the `ssh-key-proof` kind: it proves, with the installed key and the OpenSSH client cron
// uses, that the key does the backup and nothing else. Each refusal is paired with a success on the
// same key, and proven by the forced command's own effect — its refusal text, the directory the
// server picks — so a key that was never installed, or a server that refuses everything, cannot
// pass. sshd's log is shown next to each effect when it has the line (the key's fingerprint and a
// from= refusal at LogLevel INFO, a forced-command session only at VERBOSE); a line it lacks is
// said, never required, because Debian's sshd_config leaves LogLevel INFO:
//
//   - one real push (the cron command) succeeds and the files arrive with modes (and owners, when
//     the backup login is root) kept; history-safe: in a new directory the server chose;
//   - `ssh … /bin/sh -c 'echo pwned'` does not print pwned and prints the forced command's refusal
//     (the wrapper's "cairn-backup: refused", rrsync's error, or the rsync server's protocol error);
//   - an interactive login gets no pty (client: "PTY allocation request failed"), the forced
//     command's refusal, and no shell;
//   - from an address outside from= the same key is refused ("Permission denied (publickey…)");
//   - history-safe: `rsync --delete` from an empty directory and a push aimed at an earlier backup's
//     path are refused by the wrapper, and every earlier backup is byte for byte unchanged.
//
// It changes what a backup changes (one new backup); rollback does not delete backups.
type Proof struct {
	Push          ForcedCommand `yaml:",inline"`
	AdminUser     ref.Template  `yaml:"admin_user"`
	AdminIdentity ref.Template  `yaml:"admin_identity"`
	// OutsideAddress is a local address outside the from= pattern to connect from (e.g. 127.0.0.2
	// in a rehearsal); empty means the from= refusal cannot be proven here and the step fails.
	OutsideAddress ref.Template `yaml:"outside_address"`
	// SSHDLog is a command line on the backup host printing sshd's recent log.
	SSHDLog ref.Template `yaml:"sshd_log"`
}

// Validate checks presence.
func (p *Proof) Validate() error {
	if err := p.Push.Validate(); err != nil {
		return err
	}
	if p.SSHDLog.IsZero() {
		return errors.New("give `sshd_log:` — a command on the backup host printing sshd's log (each refusal is shown with its log line)")
	}
	return nil
}

func (p *Proof) target() *Target {
	return &Target{Host: p.Push.Host, Port: p.Push.Port, AdminUser: p.AdminUser, AdminIdentity: p.AdminIdentity, KnownHosts: p.Push.KnownHosts}
}

// Describe lists the probes.
func (p *Proof) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActExec, Target: "local → " + env.Describe(p.Push.Host), Text: "with the new key only (BatchMode, host key checked):\n" +
		"  1. one real backup push (the cron command) → succeeds; files arrive with modes/owners kept\n" +
		"  2. ssh … /bin/sh -c 'echo pwned' → no shell runs (forced command instead)\n" +
		"  3. ssh -tt … → no pty, no shell\n" +
		"  4. ssh -b " + orDefault(env.Describe(p.OutsideAddress), "<outside-address>") + " … → refused by from=\n" +
		"  5. history-safe only: rsync --delete from an empty dir, and a push aimed at an earlier backup → refused, earlier backups unchanged\n" +
		"each paired with sshd's log lines (" + env.Describe(p.SSHDLog) + ")"}}
}

// Check says the proof is to run.
func (p *Proof) Check(ctx context.Context, env *steps.Env) steps.Check {
	if _, err := p.Push.resolve(env); err != nil {
		return blockedOrUnknown(err, "fix the parameters named above")
	}
	return steps.ReadyTo(steps.Create, "will run one real backup and the refusal probes")
}

type prover struct {
	env   *steps.Env
	admin shell
	push  push
	fp    string
	log   string
	seen  map[string]int
	lines []string // evidence, for the output
	// logGone is set once sshd's log could not be read: the effects stand alone from then on.
	logGone bool
}

// newLog returns the sshd log lines that appeared since the last call.
func (pr *prover) newLog(ctx context.Context) ([]string, error) {
	out, err := mustRun(ctx, pr.admin, nil, "sh", "-c", pr.log)
	if err != nil {
		return nil, fmt.Errorf("read sshd's log: %w", err)
	}
	count := map[string]int{}
	var fresh []string
	for _, l := range strings.Split(out, "\n") {
		count[l]++
		if count[l] > pr.seen[l] {
			fresh = append(fresh, l)
		}
	}
	pr.seen = count
	return fresh, nil
}

// logSays shows the sshd log lines (new since the last probe) that back a probe's effect. The
// effect is the proof; a line the log lacks is said (with why, for the VERBOSE-only one), never
// fatal, and a log that cannot be read is said once.
func (pr *prover) logSays(ctx context.Context, what string, needles ...string) []string {
	if pr.logGone {
		return nil
	}
	lines, err := pr.newLog(ctx)
	if err != nil {
		pr.logGone = true
		pr.env.Info("  sshd's log cannot be read (" + firstLine(err.Error()) + "): the effects are the proof")
		return nil
	}
	for _, n := range needles {
		hit := ""
		for _, l := range lines {
			if strings.Contains(l, n) {
				hit = l
				break
			}
		}
		if hit == "" {
			why := ""
			if n == forcedSession {
				why = " (sshd writes it at LogLevel VERBOSE only)"
			}
			pr.env.Info(fmt.Sprintf("  sshd's log has no line with %q%s", n, why))
			continue
		}
		hit = strings.TrimSpace(hit)
		if len(hit) > 240 { // a forced command can be long; the start and the connection are what matter
			hit = hit[:160] + " … " + hit[len(hit)-70:]
		}
		pr.env.Info("  sshd: " + hit)
		pr.lines = append(pr.lines, what+": "+hit)
	}
	return lines
}

// forcedSession is the line sshd writes for a forced-command session — at LogLevel VERBOSE only.
const forcedSession = "Starting session: forced-command (key-option)"

// refusalText is what the forced command itself prints when asked for anything but the push: the
// effect that proves it ran in place of the command the client asked for.
func refusalText(mode string) string {
	switch mode {
	case ModeHistorySafe:
		return "cairn-backup: refused"
	case ModeRrsync:
		return "rrsync error"
	default: // the rsync server, fed no protocol
		return "rsync error"
	}
}

func runLocal(ctx context.Context, stdin string, argv ...string) (stdout, stderr string, code int) {
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Stdin = &o, &e, strings.NewReader(stdin)
	err := cmd.Run()
	code = 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		code = -1
		e.WriteString(err.Error())
	}
	return o.String(), e.String(), code
}

// listing describes a tree: relative path, mode, owner, group, size and content hash per entry.
func listing(ctx context.Context, sh shell, dir string) (string, error) {
	return mustRun(ctx, sh, nil, "sh", "-c",
		`cd -- "$1" && find . -mindepth 1 -printf '%P\t%m\t%u\t%g\t%s\t' -exec sh -c 'if [ -f "$1" ] && [ ! -L "$1" ]; then sha256sum < "$1" | cut -c1-16; else echo -; fi' sh {} \; | LC_ALL=C sort`,
		"sh", dir)
}

// Apply runs the probes.
func (p *Proof) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	pu, err := p.Push.resolve(env)
	if err != nil {
		return nil, err
	}
	logCmd, err := env.Text(p.SSHDLog)
	if err != nil {
		return nil, err
	}
	outside, err := env.Text(p.OutsideAddress)
	if err != nil {
		return nil, err
	}
	pubText, err := os.ReadFile(pu.key + ".pub")
	if err != nil {
		return nil, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubText)
	if err != nil {
		return nil, err
	}
	admin, closeFn, err := connect(ctx, env, p.target())
	if err != nil {
		return nil, err
	}
	defer closeFn()
	pr := &prover{env: env, admin: admin, push: pu, fp: ssh.FingerprintSHA256(pub), log: logCmd}
	if _, err := pr.newLog(ctx); err != nil {
		pr.logGone = true
		env.Info("sshd's log cannot be read (" + firstLine(err.Error()) + "): the proof rests on the forced command's own effects")
	}
	accepted := "Accepted publickey for " + pu.user + " from "
	forced := forcedSession
	refusal := refusalText(pu.mode)
	sshArgv := append([]string{}, strings.Fields(pu.sshCommand())...)
	hist := pu.mode == ModeHistorySafe

	// Earlier backups (history-safe), to prove they are never changed.
	var before []string
	if hist {
		before, _ = datedDirs(ctx, admin, pu.dest)
	}
	earlier := map[string]string{}
	for _, d := range before {
		if earlier[d], err = listing(ctx, admin, path.Join(pu.dest, d)); err != nil {
			return nil, err
		}
	}

	// 1. One real backup: the cron command.
	env.Info("1. backup push with the key: " + quoteArgv(pu.clientArgv(nil, "", "")))
	argv := pu.clientArgv(nil, "", "")
	if _, e, code := runLocal(ctx, "", argv...); code != 0 {
		return nil, fmt.Errorf("the backup push failed (exit %d): %s", code, strings.TrimSpace(e))
	}
	pr.logSays(ctx, "backup push accepted", accepted, pr.fp, forced)
	arrived := pu.dest
	if hist {
		after, err := datedDirs(ctx, admin, pu.dest)
		if err != nil {
			return nil, err
		}
		if len(after) != len(before)+1 {
			return nil, fmt.Errorf("history-safe: expected one new dated backup under %s, found %d → %d", pu.dest, len(before), len(after))
		}
		arrived = path.Join(pu.dest, after[len(after)-1])
		env.Info("  the forced command ran: the client pushed to " + pu.dest + "/ and the server chose " + arrived + "/")
	}
	want, err := listing(ctx, localShell{}, pu.source)
	if err != nil {
		return nil, err
	}
	got, err := listing(ctx, admin, arrived)
	if err != nil {
		return nil, err
	}
	if pu.user != "root" {
		want, got = dropOwners(want), dropOwners(got)
		env.Info("  (the backup login is not root: owners cannot be kept; modes, sizes and contents are compared)")
	}
	if want != got {
		return nil, fmt.Errorf("files in %s differ from %s:\nsource:\n%s\nbackup:\n%s", arrived, pu.source, want, got)
	}
	env.Info(fmt.Sprintf("  files arrived in %s with modes%s, sizes and contents kept", arrived, map[bool]string{true: ", owners", false: ""}[pu.user == "root"]))

	// 2. No shell.
	target := pu.user + "@" + pu.host
	o, e, _ := runLocal(ctx, "", append(append([]string{}, sshArgv...), target, "/bin/sh -c 'echo pwned'")...)
	if strings.Contains(o, "pwned") {
		return nil, errors.New("SHELL RAN: `ssh … /bin/sh -c 'echo pwned'` printed pwned — the key is not restricted")
	}
	if !strings.Contains(e, refusal) {
		return nil, fmt.Errorf("`ssh … /bin/sh -c 'echo pwned'` did not get the forced command's refusal (%q), so nothing shows the forced command ran: %q", refusal, strings.TrimSpace(e))
	}
	env.Info("2. ssh … /bin/sh -c 'echo pwned' → no shell ran; the forced command answered: " + firstLine(e[strings.Index(e, refusal):]))
	pr.logSays(ctx, "no shell", accepted, pr.fp, forced)

	// 3. No pty, no interactive shell.
	// A shell, if one ran, would read this from stdin and print shell-ran-42 (the input itself
	// never shows: there is no pty to echo it).
	o, e, _ = runLocal(ctx, "echo shell-ran-$((6*7))\n", append(append([]string{sshArgv[0], "-tt"}, sshArgv[1:]...), target)...)
	if strings.Contains(o+e, "shell-ran-42") {
		return nil, errors.New("SHELL RAN: `ssh -tt` with `echo` on its input printed the result — the key gets an interactive shell")
	}
	if !strings.Contains(e, "PTY allocation request failed") {
		return nil, fmt.Errorf("an interactive login was not refused a pty: %q %q", o, e)
	}
	answer := ""
	if i := strings.Index(o+e, refusal); i >= 0 {
		answer = "; the forced command answered: " + firstLine((o + e)[i:])
	}
	env.Info("3. ssh -tt → " + firstLine(e[strings.Index(e, "PTY"):]) + "; no shell read its input" + answer)
	for _, l := range pr.logSays(ctx, "no pty", accepted, pr.fp, forced) {
		if strings.Contains(l, "Starting session: shell") {
			return nil, errors.New("a shell session started: " + l)
		}
	}

	// 4. from= refusal.
	if outside == "" {
		return nil, errors.New("from= refusal not proven: give -p outside-address=<a local address outside from=> (the same key was accepted from the allowed address above)")
	}
	_, e, code := runLocal(ctx, "", append(append([]string{sshArgv[0], "-b", outside}, sshArgv[1:]...), target, "true")...)
	if code == 0 {
		return nil, fmt.Errorf("a connection from %s was accepted: from= does not hold", outside)
	}
	if !strings.Contains(e, "Permission denied (publickey") {
		return nil, fmt.Errorf("the connection from %s failed, but not as an authentication refusal (so from= is not what stopped it): %q", outside, strings.TrimSpace(e))
	}
	env.Info("4. ssh -b " + outside + " → refused: " + firstLine(e[strings.Index(e, "Permission denied"):]) + " (the same key was accepted from the allowed address above)")
	pr.logSays(ctx, "from= refusal", "not from a permitted host")

	// 5. history-safe: deletion and overwrite refused, earlier backups unchanged.
	if hist {
		empty, err := os.MkdirTemp("", "cairn-empty-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(empty)
		all, err := datedDirs(ctx, admin, pu.dest)
		if err != nil {
			return nil, err
		}
		for _, d := range all {
			if _, ok := earlier[d]; !ok {
				if earlier[d], err = listing(ctx, admin, path.Join(pu.dest, d)); err != nil {
					return nil, err
				}
			}
		}
		probes := []struct {
			what string
			argv []string
		}{
			{"rsync --delete from an empty directory", pu.clientArgv([]string{"--delete"}, "", empty)},
			{"push aimed at earlier backup " + all[0], pu.clientArgv(nil, "./"+all[0]+"/", "")},
		}
		for i, pr2 := range probes {
			_, e, code := runLocal(ctx, "", pr2.argv...)
			if code == 0 || !strings.Contains(e, "cairn-backup: refused") {
				return nil, fmt.Errorf("%s was not refused by the wrapper (exit %d): %s", pr2.what, code, e)
			}
			env.Info(fmt.Sprintf("5.%d %s → %s", i+1, pr2.what, firstLine(e[strings.Index(e, "cairn-backup"):])))
			pr.logSays(ctx, pr2.what, accepted, pr.fp, forced)
		}
		now, err := datedDirs(ctx, admin, pu.dest)
		if err != nil {
			return nil, err
		}
		if len(now) != len(all) {
			return nil, fmt.Errorf("backups under %s changed from %v to %v", pu.dest, all, now)
		}
		for d, l := range earlier {
			cur, err := listing(ctx, admin, path.Join(pu.dest, d))
			if err != nil {
				return nil, err
			}
			if cur != l {
				return nil, fmt.Errorf("earlier backup %s changed", d)
			}
		}
		env.Info(fmt.Sprintf("  all %d backups under %s unchanged", len(all), pu.dest))
	}
	return steps.Outputs{}.Set("evidence", strings.Join(pr.lines, "\n")), nil
}

// OutputNames declares the outputs.
func (p *Proof) OutputNames() []string { return []string{"evidence"} }

func datedDirs(ctx context.Context, sh shell, base string) ([]string, error) {
	out, err := mustRun(ctx, sh, nil, "sh", "-c", `cd -- "$1" && for d in [0-9]*Z; do [ -d "$d" ] && echo "$d"; done; true`, "sh", base)
	if err != nil {
		return nil, err
	}
	var ds []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l != "" {
			ds = append(ds, l)
		}
	}
	sort.Strings(ds)
	return ds, nil
}

func dropOwners(l string) string {
	var out []string
	for _, line := range strings.Split(l, "\n") {
		f := strings.Split(line, "\t")
		if len(f) >= 4 {
			f[2], f[3] = "", ""
		}
		out = append(out, strings.Join(f, "\t"))
	}
	return strings.Join(out, "\n")
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Verify: the proof is its apply.
func (p *Proof) Verify(context.Context, *steps.Env) error { return nil }

// Rollback does not delete backups.
func (p *Proof) Rollback(context.Context, *steps.Env) error {
	return steps.NotReversible("the proof made a real backup on the backup host; cairn never deletes backups")
}
