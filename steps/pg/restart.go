package pg

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// Restart is the `pg-restart` kind. It restarts only when the server waits for it: a setting with
// pending_restart, or a data directory whose mode no longer matches data_directory_mode (the
// server decides at start whether new files are group-readable).
type Restart struct {
	Conn `yaml:",inline"`
	// Allowed ("true"/"false", may be a reference; default true). When false the step hands the
	// engineer the exact command and waits for them, then verifies.
	Allowed ref.Template `yaml:"allowed"`
	// LogFile is pg_ctl's -l when the restart goes through pg_ctl (default: next to the data
	// directory, postgresql-restart.log).
	LogFile ref.Template `yaml:"log_file"`
}

// registerRestart adds the `pg-restart` kind.
func registerRestart(r *steps.Registry) {
	r.Register("pg-restart", "a server restart through the service manager or pg_ctl, when a setting or the data directory mode needs it", func() steps.Step { return &Restart{} })
}

// Validate has nothing to check beyond types.
func (r *Restart) Validate() error { return nil }

// restartNeeds lists why the server waits for a restart.
func restartNeeds(ctx context.Context, conn *pgx.Conn) ([]string, error) {
	rows, _ := conn.Query(ctx, "SELECT name || ' changed (pending_restart)' FROM pg_settings WHERE pending_restart ORDER BY 1")
	why, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	dir, err := show(ctx, conn, "data_directory")
	if err != nil {
		return nil, err
	}
	mode, err := show(ctx, conn, "data_directory_mode")
	if err != nil {
		return nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("stat the data directory %s (cairn must run on the database host): %w", dir, err)
	}
	want := "0700"
	if fi.Mode().Perm()&0o070 != 0 {
		want = "0750"
	}
	if mode != want {
		why = append(why, fmt.Sprintf("data directory is %04o but the server runs with data_directory_mode %s", fi.Mode().Perm(), mode))
	}
	return why, nil
}

// restartPlan is how this host restarts this server.
type restartPlan struct {
	argv    []string
	via     string
	dataDir string
}

func (p restartPlan) run(ctx context.Context, env *steps.Env) error {
	env.Info("restarting the server via " + p.via + ": " + strings.Join(p.argv, " "))
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: p.argv}); err != nil {
		return err
	}
	return closeGroupAccess(env, p.dataDir)
}

// closeGroupAccess: when the data directory is private (no group bits) the server now runs with
// data_directory_mode 0700, and files it created while it ran in group access mode (up to and
// during this restart's shutdown) are the only group-readable ones left. They are closed again, so
// a rollback leaves the directory exactly as private as it was. A directory with group access is
// left alone.
func closeGroupAccess(env *steps.Env, dir string) error {
	if dir == "" {
		return nil
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm()&0o070 != 0 {
		return nil
	}
	n := 0
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir || !(d.IsDir() || d.Type().IsRegular()) {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if m := info.Mode(); m.Perm()&0o070 != 0 {
			if err := os.Chmod(p, m&^0o070); err == nil {
				n++
			}
		}
		return nil
	})
	if n > 0 {
		env.Info(fmt.Sprintf("closed group access on %d file(s) the server created in group access mode", n))
	}
	return err
}

// restartHow finds the host's own way to restart the server: systemd's postgresql@VER-NAME unit
// or pg_ctlcluster for a Debian cluster, else pg_ctl as the data directory's owner.
func restartHow(ctx context.Context, conn *pgx.Conn, env *steps.Env, logFile ref.Template) (restartPlan, error) {
	dir, err := show(ctx, conn, "data_directory")
	if err != nil {
		return restartPlan{}, err
	}
	vs, err := show(ctx, conn, "server_version_num")
	if err != nil {
		return restartPlan{}, err
	}
	major := strconv.Itoa(atoiSafe(vs) / 10000)
	if out, err := exec.CommandContext(ctx, "pg_lsclusters", "--no-header").Output(); err == nil {
		for _, l := range strings.Split(string(out), "\n") {
			f := strings.Fields(l)
			if len(f) >= 6 && filepath.Clean(f[5]) == filepath.Clean(dir) {
				if _, err := os.Stat("/run/systemd/system"); err == nil {
					return restartPlan{argv: []string{"systemctl", "restart", "postgresql@" + f[0] + "-" + f[1]}, via: "systemd", dataDir: dir}, nil
				}
				return restartPlan{argv: []string{"pg_ctlcluster", f[0], f[1], "restart"}, via: "pg_ctlcluster", dataDir: dir}, nil
			}
		}
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return restartPlan{}, err
	}
	owner := strconv.Itoa(int(fi.Sys().(*syscall.Stat_t).Uid))
	if u, err := user.LookupId(owner); err == nil {
		owner = u.Username
	}
	pgctl := filepath.Join("/usr/lib/postgresql", major, "bin", "pg_ctl")
	if _, err := os.Stat(pgctl); err != nil {
		if pgctl, err = exec.LookPath("pg_ctl"); err != nil {
			return restartPlan{}, errors.New("no service manager unit and no pg_ctl found to restart the server")
		}
	}
	log := filepath.Join(filepath.Dir(dir), "postgresql-restart.log")
	if !logFile.IsZero() {
		if log, err = env.Text(logFile); err != nil {
			return restartPlan{}, err
		}
	}
	argv := []string{pgctl, "restart", "-D", dir, "-m", "fast", "-w", "-t", "300", "-l", log}
	if os.Geteuid() == 0 {
		argv = append([]string{"runuser", "-u", owner, "--"}, argv...)
	}
	return restartPlan{argv: argv, via: "pg_ctl", dataDir: dir}, nil
}

func atoiSafe(s string) int { n, _ := strconv.Atoi(s); return n }

// Describe shows what decides and how the restart happens.
func (r *Restart) Describe(env *steps.Env) []steps.Action {
	target := r.Conn.Describe(env)
	allowed := "true"
	if !r.Allowed.IsZero() {
		allowed = env.Describe(r.Allowed)
	}
	return []steps.Action{
		{Kind: steps.ActSQL, Target: target, Text: "SELECT name FROM pg_settings WHERE pending_restart;  SHOW data_directory_mode  -- compared with the data directory's mode"},
		{Kind: steps.ActExec, Target: "local", Text: "# restart allowed: " + allowed + " (else the engineer runs it)\nsystemctl restart postgresql@<ver>-<cluster>   # a Debian cluster under systemd\npg_ctlcluster <ver> <cluster> restart          # a Debian cluster without systemd\nrunuser -u <data directory owner> -- /usr/lib/postgresql/<ver>/bin/pg_ctl restart -D <data_directory> -m fast -w -t 300 -l " + func() string {
			if r.LogFile.IsZero() {
				return "<data_directory>/../postgresql-restart.log"
			}
			return env.Describe(r.LogFile)
		}() + "   # otherwise"},
	}
}

// Check asks the server whether it waits for a restart.
func (r *Restart) Check(ctx context.Context, env *steps.Env) steps.Check {
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the admin connection and that the server is up")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	why, err := restartNeeds(ctx, conn)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if len(why) == 0 {
		return steps.AlreadyDone("nothing waits for a restart")
	}
	return steps.ReadyTo(steps.Update, "restart needed: %s", strings.Join(why, "; "))
}

// Apply restarts (or has the engineer restart) and waits for the server.
func (r *Restart) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return nil, err
	}
	how, err := restartHow(ctx, conn, env, r.LogFile)
	conn.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	allowed := true
	if !r.Allowed.IsZero() {
		v, err := env.Text(r.Allowed)
		if err != nil {
			return nil, err
		}
		if allowed, err = ref.ParseBool(v); err != nil {
			return nil, fmt.Errorf("allowed: %q is not true or false", v)
		}
	}
	if !allowed {
		if env.Ask == nil {
			return nil, errors.New("restarting is not allowed and nobody can be asked: run " + strings.Join(how.argv, " ") + " then resume")
		}
		a, err := env.Ask(ctx, steps.Question{Kind: "checklist", Prompt: "cairn may not restart the server: restart it yourself, then tick",
			Items: []string{"Restart in your maintenance window: " + strings.Join(how.argv, " ")}})
		if err != nil {
			return nil, err
		}
		if !a.Yes {
			return nil, errors.New("the restart was not confirmed")
		}
		return nil, nil
	}
	return nil, how.run(ctx, env)
}

// Verify asks again.
func (r *Restart) Verify(ctx context.Context, env *steps.Env) error {
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	why, err := restartNeeds(ctx, conn)
	if err != nil {
		return err
	}
	if len(why) > 0 {
		return &steps.VerifyError{What: "server restart", Expected: "nothing pending", Found: strings.Join(why, "; ")}
	}
	return nil
}

// Rollback: a restart cannot be undone; the settings and data-directory steps' rollbacks restart
// again when what they restore needs it.
func (r *Restart) Rollback(ctx context.Context, env *steps.Env) error {
	return steps.NotReversible("a restart cannot be undone; the settings step's rollback restarts again when the restored settings need it")
}
