package sshsteps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Modes of the server-side command.
const (
	ModeRsyncServer = "rsync-server" // the exact `rsync --server …` line the client sends, fixed to dest
	ModeRrsync      = "rrsync"       // rsync's own rrsync script, confined to dest, write-only, no deletes
	ModeHistorySafe = "history-safe" // a wrapper: the server picks a new dated directory per run
)

// ForcedCommand is the `rsync-forced-command` kind. It changes nothing: it derives, from the local
// rsync itself, the exact `rsync --server …` line a push with the chosen options sends (rsync is
// run with a stand-in remote shell that records its arguments — no backup runs, no connection is
// made, no -v), and builds the forced command for the chosen mode and the client command line cron
// will run. Outputs: command (for command="…"), client_command (a shell line), server_line.
type ForcedCommand struct {
	Mode        ref.Template   `yaml:"mode"`
	Source      ref.Template   `yaml:"source"`
	Dest        ref.Template   `yaml:"dest"`
	AllowedRoot ref.Template   `yaml:"allowed_root"` // dest must be inside it
	Host        ref.Template   `yaml:"host"`
	Port        ref.Template   `yaml:"port"`
	User        ref.Template   `yaml:"user"`
	Key         ref.Template   `yaml:"key"`
	KnownHosts  ref.Template   `yaml:"known_hosts"`
	Options     []ref.Template `yaml:"options"` // client rsync options; default [-a]
	Rrsync      ref.Template   `yaml:"rrsync"`  // default /usr/bin/rrsync
}

// Validate checks presence.
func (f *ForcedCommand) Validate() error {
	if f.Mode.IsZero() || f.Source.IsZero() || f.Dest.IsZero() || f.Host.IsZero() || f.User.IsZero() || f.Key.IsZero() {
		return errors.New("give `mode:`, `source:`, `dest:`, `host:`, `user:` and `key:`")
	}
	return nil
}

// OutputNames declares the outputs.
func (f *ForcedCommand) OutputNames() []string {
	return []string{"command", "client_command", "server_line"}
}

// push is a resolved backup push.
type push struct {
	mode, source, dest, root, host, port, user, key, knownHosts, rrsync string
	options                                                             []string
}

var plainPath = func(p string) bool { return !strings.ContainsAny(p, " \t\n'\"\\$`;&|<>*?") }

func (f *ForcedCommand) resolve(env *steps.Env) (push, error) {
	var p push
	for _, x := range []struct {
		t   ref.Template
		dst *string
		def string
	}{{f.Mode, &p.mode, ""}, {f.Source, &p.source, ""}, {f.Dest, &p.dest, ""}, {f.AllowedRoot, &p.root, "/"},
		{f.Host, &p.host, ""}, {f.Port, &p.port, "22"}, {f.User, &p.user, ""}, {f.Key, &p.key, ""},
		{f.KnownHosts, &p.knownHosts, filepath.Join(homeDir(), ".ssh", "known_hosts")}, {f.Rrsync, &p.rrsync, "/usr/bin/rrsync"}} {
		v, err := env.Text(x.t)
		if err != nil {
			return p, err
		}
		if v == "" {
			v = x.def
		}
		*x.dst = v
	}
	for _, o := range f.Options {
		v, err := env.Text(o)
		if err != nil {
			return p, err
		}
		p.options = append(p.options, v)
	}
	if len(p.options) == 0 {
		p.options = []string{"-a"}
	}
	return p, p.check()
}

// check refuses bad input with the reason and the fix, all problems together.
func (p push) check() error {
	var errs []error
	switch p.mode {
	case ModeRsyncServer, ModeRrsync, ModeHistorySafe:
	default:
		errs = append(errs, fmt.Errorf("mode %q: use rsync-server, rrsync or history-safe", p.mode))
	}
	for name, v := range map[string]string{"source": p.source, "dest": p.dest, "key": p.key, "known-hosts": p.knownHosts, "allowed root": p.root} {
		if !path.IsAbs(v) {
			errs = append(errs, fmt.Errorf("%s %q is a relative path: give an absolute path (cron runs from another directory)", name, v))
		} else if !plainPath(v) {
			errs = append(errs, fmt.Errorf("%s %q holds a space, quote or shell character: cron and rsync -e split on those; choose a plain path", name, v))
		}
	}
	d, r := path.Clean(p.dest), path.Clean(p.root)
	if path.IsAbs(p.dest) && !(r == "/" || strings.HasPrefix(d+"/", r+"/")) {
		errs = append(errs, fmt.Errorf("dest %s is outside the allowed root %s: the key would reach beyond it; choose a dest under %s", p.dest, r, r))
	}
	if d == "/" || d == r && p.mode != ModeRsyncServer && r == "/" {
		errs = append(errs, fmt.Errorf("dest %q would hand the key the whole file system", p.dest))
	}
	if p.host == "" || strings.ContainsAny(p.host, " @/'\"") {
		errs = append(errs, fmt.Errorf("host %q is not a host name or address", p.host))
	}
	if p.user == "" || strings.ContainsAny(p.user, " @:/'\"") {
		errs = append(errs, fmt.Errorf("user %q is not a login name", p.user))
	}
	for _, o := range p.options {
		if o == "-v" || strings.HasPrefix(o, "-vv") || o == "--verbose" || strings.HasPrefix(o, "--delete") || strings.HasPrefix(o, "-e") || strings.HasPrefix(o, "--rsh") || !strings.HasPrefix(o, "-") {
			errs = append(errs, fmt.Errorf("rsync option %q is not allowed here (no -v, no --delete, no -e: cairn builds the remote shell)", o))
		}
	}
	return errors.Join(errs...)
}

// sshCommand is the -e value: the key only, batch mode, the host key checked against known_hosts.
func (p push) sshCommand() string {
	return fmt.Sprintf("ssh -i %s -p %s -o BatchMode=yes -o IdentitiesOnly=yes -o StrictHostKeyChecking=yes -o UserKnownHostsFile=%s", p.key, p.port, p.knownHosts)
}

func (p push) remoteHost() string {
	if strings.Contains(p.host, ":") {
		return "[" + p.host + "]"
	}
	return p.host
}

// remotePath is the path the client names: ignored by a fixed rsync line, relative to the
// confined directory for rrsync and the wrapper.
func (p push) remotePath() string {
	if p.mode == ModeRsyncServer {
		return strings.TrimSuffix(p.dest, "/") + "/"
	}
	return "./"
}

// clientArgv is the push as argv, with extra options (probes add --delete and the like) and
// another remote path when given.
func (p push) clientArgv(extra []string, remotePath, source string) []string {
	argv := append([]string{"rsync"}, p.options...)
	argv = append(argv, extra...)
	if remotePath == "" {
		remotePath = p.remotePath()
	}
	if source == "" {
		source = p.source
	}
	return append(argv, "-e", p.sshCommand(), strings.TrimSuffix(source, "/")+"/", p.user+"@"+p.remoteHost()+":"+remotePath)
}

// deriveServerLine runs the local rsync with a stand-in remote shell that records its arguments and
// fails, and returns the command rsync asked the remote side to run.
func deriveServerLine(ctx context.Context, p push) (string, error) {
	dir, err := os.MkdirTemp("", "cairn-derive-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	rsh := filepath.Join(dir, "rsh")
	if err := os.WriteFile(rsh, []byte("#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$0.args\"\nexit 1\n"), 0o700); err != nil {
		return "", err
	}
	src := filepath.Join(dir, "src")
	if err := os.Mkdir(src, 0o700); err != nil {
		return "", err
	}
	argv := append([]string{}, p.options...)
	argv = append(argv, "-e", rsh, src+"/", "cairn-user@cairn-derive-host:"+p.remotePath())
	_ = exec.CommandContext(ctx, "rsync", argv...).Run() // fails by design: the stand-in exits 1
	b, err := os.ReadFile(rsh + ".args")
	if err != nil {
		return "", fmt.Errorf("rsync never called the remote shell: %w", err)
	}
	args := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i, a := range args {
		if a == "cairn-derive-host" && i+1 < len(args) {
			return strings.Join(args[i+1:], " "), nil
		}
	}
	return "", fmt.Errorf("unexpected remote shell arguments %q", args)
}

// serverCommand builds the forced command for the mode from the derived line.
func serverCommand(p push, line string) (string, error) {
	switch p.mode {
	case ModeRsyncServer:
		return line, nil
	case ModeRrsync:
		return fmt.Sprintf("%s -wo -no-del %s", p.rrsync, strings.TrimSuffix(p.dest, "/")), nil
	}
	// history-safe: the line must end in ". ./"; the wrapper accepts exactly that line.
	flags, ok := strings.CutSuffix(line, " . ./")
	if !ok || !strings.HasPrefix(flags, "rsync --server ") {
		return "", fmt.Errorf("derived line %q does not have the expected shape", line)
	}
	base := strings.TrimSuffix(p.dest, "/")
	return strings.Join([]string{
		"set -eu",
		"base='" + base + "'",
		"expect='" + line + "'",
		`if [ "${SSH_ORIGINAL_COMMAND:-}" != "$expect" ]; then echo "cairn-backup: refused: this key only runs the backup push ($expect), not: ${SSH_ORIGINAL_COMMAND:-an interactive login}" >&2; exit 1; fi`,
		`stamp=$(date -u +%Y%m%dT%H%M%SZ)`,
		`if [ -e "$base/$stamp" ]; then echo "cairn-backup: refused: $base/$stamp exists" >&2; exit 1; fi`,
		`prev=$(ls -1d "$base"/[0-9]*Z 2>/dev/null | tail -n 1)`,
		`tmp="$base/.incoming-$stamp"`,
		`mkdir -- "$tmp"`,
		`if [ -n "$prev" ]; then ` + flags + ` --link-dest="$prev" . "$tmp/"; else ` + flags + ` . "$tmp/"; fi`,
		`mv -- "$tmp" "$base/$stamp"`,
	}, "; "), nil
}

// Describe explains the modes.
func (f *ForcedCommand) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActExec, Target: "local", Text: fmt.Sprintf(
		"derive the server side of `rsync %s %s/ %s@%s:…` with a stand-in remote shell (no backup runs, no connection, no -v), for mode %s:\n"+
			"  rsync-server — command=\"<that exact rsync --server line>\": the path is fixed to %s; a stolen key can overwrite earlier files there\n"+
			"  rrsync       — command=\"/usr/bin/rrsync -wo -no-del %s\": any rsync push confined to %s, deletes refused; can still overwrite yesterday's files\n"+
			"  history-safe — a wrapper: only the exact push line is accepted; the SERVER picks %s/<UTC time>/ per run with --link-dest to the previous one; deletes and pushes aimed at earlier backups are refused",
		strings.Join(describeAll(env, f.Options, "-a"), " "), env.Describe(f.Source), env.Describe(f.User), env.Describe(f.Host), env.Describe(f.Mode),
		env.Describe(f.Dest), env.Describe(f.Dest), env.Describe(f.Dest), env.Describe(f.Dest))}}
}

func describeAll(env *steps.Env, ts []ref.Template, def string) []string {
	if len(ts) == 0 {
		return []string{def}
	}
	var out []string
	for _, t := range ts {
		out = append(out, env.Describe(t))
	}
	return out
}

// Check validates the input; it only reads.
func (f *ForcedCommand) Check(ctx context.Context, env *steps.Env) steps.Check {
	p, err := f.resolve(env)
	if err != nil {
		return blockedOrUnknown(err, "fix the parameters named above")
	}
	if _, err := os.Stat(p.source); err != nil {
		return steps.BlockedBy(fmt.Sprintf("source %s: %v", p.source, err), "give -p source=<an existing directory>")
	}
	return steps.ReadyTo(steps.Read, "derives the forced command for mode %s (reads only)", p.mode)
}

// Apply derives the lines.
func (f *ForcedCommand) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	p, err := f.resolve(env)
	if err != nil {
		return nil, err
	}
	line, err := deriveServerLine(ctx, p)
	if err != nil {
		return nil, err
	}
	cmd, err := serverCommand(p, line)
	if err != nil {
		return nil, err
	}
	client := quoteArgv(p.clientArgv(nil, "", ""))
	env.Info("the client sends: " + line)
	env.Info("forced command:   " + cmd)
	env.Info("cron will run:    " + client)
	return steps.Outputs{}.Set("command", cmd).Set("client_command", client).Set("server_line", line), nil
}

// Verify has nothing to probe: the derivation is checked by the proof step's real pushes.
func (f *ForcedCommand) Verify(context.Context, *steps.Env) error { return nil }

// Rollback: nothing was changed.
func (f *ForcedCommand) Rollback(context.Context, *steps.Env) error { return nil }
