package sshsteps

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/host"
)

// Preflight is the `ssh-backup-preflight` kind. It only reads: the parameters (absolute plain
// paths, dest inside the allowed root, a known and matching host key), rsync on both hosts, the
// engineer's access and sudo on the backup host, the backup login, the destination directory
// (which must exist, owned by that login), and crontab here. Every problem is reported together.
//
// It refuses a backup login that is the engineer's own admin login (by name, and by uid once both
// are looked up): the key's restriction — and, for root, PermitRootLogin forced-commands-only after
// the sshd reload — would then fall on the login used to install and to repair, which the
// fresh-login check after the reload would only notice once the engineer is locked out.
type Preflight struct {
	Push          ForcedCommand `yaml:",inline"`
	AdminUser     ref.Template  `yaml:"admin_user"`
	AdminIdentity ref.Template  `yaml:"admin_identity"`
	CronUser      ref.Template  `yaml:"cron_user"`
	Schedule      ref.Template  `yaml:"schedule"`
	// SSHDConfig, SSHDReload and SSHDLog are the backup host's sshd_config, reload command and log
	// command; SSHDLogLevel is "VERBOSE" when the runbook's log-level step raises LogLevel for the
	// proof. The preflight reads the effective LogLevel and says what the proof will rest on, and
	// refuses a reload command that does not exist there when a step will reload sshd.
	SSHDConfig   ref.Template `yaml:"sshd_config"`
	SSHDReload   ref.Template `yaml:"sshd_reload"`
	SSHDLog      ref.Template `yaml:"sshd_log"`
	SSHDLogLevel ref.Template `yaml:"sshd_log_level"`
}

// Validate checks presence.
func (p *Preflight) Validate() error { return p.Push.Validate() }

func (p *Preflight) target() *Target {
	return &Target{Host: p.Push.Host, Port: p.Push.Port, AdminUser: p.AdminUser, AdminIdentity: p.AdminIdentity, KnownHosts: p.Push.KnownHosts}
}

// Describe lists the checks.
func (p *Preflight) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActExec, Target: "local + " + p.target().describe(env), Text: "read only: rsync --version here and there; log in with your own access (host key checked against " +
		orDefault(env.Describe(p.Push.KnownHosts), "~/.ssh/known_hosts") + "); sudo -n true; getent passwd " + env.Describe(p.Push.User) +
		"; stat " + env.Describe(p.Push.Dest) + "; crontab present; paths absolute; dest inside " + orDefault(env.Describe(p.Push.AllowedRoot), "/") +
		"; the backup login " + env.Describe(p.Push.User) + " is not your admin login " + orDefault(env.Describe(p.AdminUser), "(you)") + " (by name and uid)"}}
}

func (p *Preflight) problems(ctx context.Context, env *steps.Env) (facts []string, probs []error, unknown error) {
	pu, err := p.Push.resolve(env)
	if errors.Is(err, ref.ErrUnknown) {
		return nil, nil, err
	}
	if err != nil {
		probs = append(probs, err)
	}
	if fi, err := os.Stat(pu.source); err != nil || !fi.IsDir() {
		probs = append(probs, fmt.Errorf("source %s is not a directory here", pu.source))
	}
	if v, err := exec.CommandContext(ctx, "rsync", "--version").Output(); err != nil {
		probs = append(probs, errors.New("rsync is not installed here: apt-get install rsync"))
	} else {
		facts = append(facts, "local: "+firstLine(string(v)))
	}
	if _, err := exec.LookPath("crontab"); err != nil {
		probs = append(probs, errors.New("crontab is not installed here: apt-get install cron"))
	}
	cu, err := env.Text(p.CronUser)
	if err != nil {
		return nil, nil, err
	}
	sched, err := env.Text(p.Schedule)
	if err != nil {
		return nil, nil, err
	}
	if !p.Schedule.IsZero() {
		if err := host.ValidateSchedule(sched); err != nil {
			probs = append(probs, err)
		}
	}
	if cu != "" {
		if _, err := exec.CommandContext(ctx, "id", "-u", cu).Output(); err != nil {
			probs = append(probs, fmt.Errorf("cron user %q does not exist here", cu))
		}
	}
	// Your own login must not be the one the key restricts: by name now, by uid once logged in.
	adminGiven, err := env.Text(p.AdminUser)
	if err != nil {
		return nil, nil, err
	}
	var admin string
	if rt, err := p.target().resolve(env); err == nil && pu.user != "" {
		admin = rt.adminUser
		if err := selfLockout(login{admin, -1}, login{pu.user, -1}, adminGiven == ""); err != nil {
			probs = append(probs, err)
			admin = "" // said once
		}
	}
	if len(probs) > 0 && pu.host == "" {
		return facts, probs, nil
	}
	sh, closeFn, err := connect(ctx, env, p.target())
	if err != nil {
		return facts, append(probs, err), nil
	}
	defer closeFn()
	facts = append(facts, "logged in to "+sh.where()+" (host key matches "+sh.t.knownHosts+")")
	if r, err := sh.run(ctx, nil, "rsync", "--version"); err != nil {
		probs = append(probs, err)
	} else if r.Code != 0 {
		probs = append(probs, fmt.Errorf("rsync is not installed on %s: apt-get install rsync there", pu.host))
	} else {
		facts = append(facts, "backup host: "+firstLine(r.Stdout))
	}
	uid, _, _, err := lookupUser(ctx, sh, pu.user)
	if err != nil {
		probs = append(probs, err)
		return facts, probs, nil
	}
	if admin != "" {
		if auid, _, _, err := lookupUser(ctx, sh, admin); err != nil {
			probs = append(probs, err)
		} else if err := selfLockout(login{admin, auid}, login{pu.user, uid}, adminGiven == ""); err != nil {
			probs = append(probs, err)
		}
	}
	f, pr, err := p.sshdFacts(ctx, env, sh, pu.user)
	if err != nil {
		return nil, nil, err
	}
	facts, probs = append(facts, f...), append(probs, pr...)
	di, err := stat(ctx, sh, pu.dest)
	switch {
	case err != nil:
		probs = append(probs, err)
	case !di.Exists || !di.Dir:
		probs = append(probs, fmt.Errorf("dest %s does not exist on %s: create it (install -d -m 0700 -o %s %s) — cairn does not create backup storage", pu.dest, pu.host, pu.user, pu.dest))
	case di.UID != uid:
		probs = append(probs, fmt.Errorf("dest %s is not owned by %s", pu.dest, pu.user))
	case pu.user != "root":
		// Owned is not enough: every parent must be searchable by the login.
		if r, err := sh.run(ctx, nil, "runuser", "-u", pu.user, "--", "test", "-w", pu.dest, "-a", "-x", pu.dest); err != nil || r.Code != 0 {
			probs = append(probs, fmt.Errorf("dest %s is owned by %s but %s cannot write into it (a parent directory it cannot search?): chmod o+x the parents, or choose another dest", pu.dest, pu.user, pu.user))
		}
	}
	if pu.mode == ModeRrsync {
		if r, err := sh.run(ctx, nil, "test", "-x", pu.rrsync); err != nil || r.Code != 0 {
			probs = append(probs, fmt.Errorf("%s is missing on %s (Debian ships it with rsync ≥ 3.2.4)", pu.rrsync, pu.host))
		}
	}
	return facts, probs, nil
}

// sshdFacts reads what the proof and the sshd-config steps assume about the backup host's sshd:
// its effective LogLevel (sshd -T), whether the log command prints anything, and — when a step
// will reload sshd (root login, or LogLevel raised) — whether the reload command exists there.
func (p *Preflight) sshdFacts(ctx context.Context, env *steps.Env, sh *remoteShell, backupUser string) (facts []string, probs []error, err error) {
	var cfg, reload, logCmd, want string
	for _, f := range []struct {
		t   ref.Template
		dst *string
	}{{p.SSHDConfig, &cfg}, {p.SSHDReload, &reload}, {p.SSHDLog, &logCmd}, {p.SSHDLogLevel, &want}} {
		if *f.dst, err = env.Text(f.t); err != nil {
			return nil, nil, err
		}
	}
	if cfg == "" {
		return nil, nil, nil
	}
	level := "(unknown)"
	if out, err := mustRun(ctx, sh, nil, "/usr/sbin/sshd", "-T", "-f", cfg); err != nil {
		facts = append(facts, fmt.Sprintf("sshd -T -f %s could not be read (%v): the proof rests on the forced command's own effects", cfg, firstLine(err.Error())))
	} else {
		for _, l := range strings.Split(out, "\n") {
			if k, v, ok := strings.Cut(l, " "); ok && k == "loglevel" {
				level = strings.ToUpper(v)
			}
		}
		switch {
		case strings.EqualFold(want, "VERBOSE") && level != "VERBOSE" && !strings.HasPrefix(level, "DEBUG"):
			facts = append(facts, "sshd LogLevel "+level+": step log-level raises it to VERBOSE for the proof (its rollback puts it back), so sshd's log also shows each forced-command session")
		case level == "VERBOSE" || strings.HasPrefix(level, "DEBUG"):
			facts = append(facts, "sshd LogLevel "+level+": sshd's log shows the key's fingerprint, each forced-command session and each from= refusal next to the proof's own effects")
		default:
			facts = append(facts, "sshd LogLevel "+level+": the proof rests on the forced command's own effects (its refusal text, the directory the server picks); sshd logs the key's fingerprint and from= refusals at INFO but a forced-command session only at VERBOSE — -p sshd-log-level=VERBOSE raises it for the run, reversibly")
		}
	}
	if logCmd != "" {
		if r, err := sh.run(ctx, nil, "sh", "-c", logCmd); err != nil || r.Code != 0 {
			facts = append(facts, fmt.Sprintf("the sshd log command (%s) does not work on %s: the proof will show effects only", logCmd, sh.t.host))
		}
	}
	if reload != "" && (backupUser == "root" || strings.EqualFold(want, "VERBOSE")) {
		bin := strings.Fields(reload)[0]
		if r, err := sh.run(ctx, nil, "sh", "-c", "command -v "+shq(bin)); err != nil || r.Code != 0 {
			probs = append(probs, fmt.Errorf("the sshd reload command %q needs %s, which is not on %s (no systemd there?): give -p sshd-reload='kill -HUP \"$(cat /run/sshd.pid)\"' or 'service ssh reload'", reload, bin, sh.t.host))
		}
	}
	return facts, probs, nil
}

// login is an account on the backup host: its name and, once looked up, its uid (-1 before).
type login struct {
	name string
	uid  int
}

// selfLockout refuses a backup login that is the engineer's own admin login: the same name, or —
// once both are looked up — the same uid (sshd applies PermitRootLogin to every uid-0 name). The
// error says why and names the fix; adminDefaulted says admin-user was empty (your local name).
func selfLockout(admin, backup login, adminDefaulted bool) error {
	same := admin.name == backup.name
	if !same && (admin.uid < 0 || admin.uid != backup.uid) {
		return nil
	}
	who := "admin-user " + admin.name
	if adminDefaulted {
		who = "admin-user (empty, so your local user name " + admin.name + ")"
	}
	how := "is also the backup login (user=" + backup.name + ")"
	if !same {
		how = fmt.Sprintf("has uid %d, the same account as the backup login (user=%s)", admin.uid, backup.name)
	}
	var why string
	if backup.name == "root" || backup.uid == 0 {
		why = "after the sshd reload, PermitRootLogin forced-commands-only refuses every root key without command= — your own included — so you would be locked out of the host you are changing, with no way in to roll it back"
	} else {
		why = "the login you administer the host with (and its sudo rights) would be the account the backup key is forced into, and a repair of one would touch the other"
	}
	fix := "use a dedicated backup user: create it there (useradd -m backup; dest owned by it) and run with -p user=backup"
	if backup.name == "backup" {
		fix = "use a dedicated backup user that is not your login (-p user=<another name>)"
	}
	if backup.name == "root" || backup.uid == 0 {
		fix += ", or keep user=root and install with your own sudo login (-p admin-user=<you>)"
	}
	return fmt.Errorf("%s %s: %s; %s", who, how, why, fix)
}

// Check runs every check.
func (p *Preflight) Check(ctx context.Context, env *steps.Env) steps.Check {
	facts, probs, unknown := p.problems(ctx, env)
	if unknown != nil {
		return steps.CannotTell("%v", unknown)
	}
	if len(probs) > 0 {
		var s []string
		for _, e := range probs {
			s = append(s, e.Error())
		}
		return steps.BlockedBy(strings.Join(s, "\n"), "fix each problem above; nothing has been changed")
	}
	return steps.ReadyTo(steps.Read, "%s", strings.Join(facts, "; "))
}

// Apply reports the facts (and fails on any problem).
func (p *Preflight) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	facts, probs, unknown := p.problems(ctx, env)
	if unknown != nil {
		return nil, unknown
	}
	for _, f := range facts {
		env.Info(f)
	}
	return nil, errors.Join(probs...)
}

// Verify has nothing more to probe.
func (p *Preflight) Verify(context.Context, *steps.Env) error { return nil }

// Rollback: nothing was changed.
func (p *Preflight) Rollback(context.Context, *steps.Env) error { return nil }
