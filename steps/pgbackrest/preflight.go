package pgbackrest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/host"
	"github.com/cairn-runbooks/cairn/steps/pg"
)

// Preflight is the `pgbackrest-preflight` kind.
type Preflight struct {
	pg.Conn `yaml:",inline"`
	// Bin is the pgBackRest executable (default pgbackrest, found in PATH).
	Bin    ref.Template `yaml:"bin"`
	Config ref.Template `yaml:"config"`
	Stanza ref.Template `yaml:"stanza"`
	// Role is the backup role: if it exists it must hold nothing beyond the backup grants.
	Role ref.Template `yaml:"role"`
	// OSUser is the backup OS user: if it exists its primary group must be the server's.
	OSUser ref.Template `yaml:"os_user"`
}

// Validate checks the fields.
func (p *Preflight) Validate() error {
	if p.Config.IsZero() || p.Stanza.IsZero() {
		return errors.New("give `config:` and `stanza:`")
	}
	return nil
}

// BackupRoleWant is what the least-privilege backup role holds on a server version.
func BackupRoleWant(versionNum int) pg.RoleWant {
	return pg.RoleWant{Login: true, Inherit: true, MemberOf: []string{"pg_read_all_settings"},
		Execute: append(pg.BackupFunctions(versionNum), "pg_catalog.pg_create_restore_point(text)", "pg_catalog.pg_switch_wal()")}
}

type finding struct {
	outs     steps.Outputs
	problems []string
	fixes    []string
	summary  string
}

func (f *finding) problem(what, fix string) {
	f.problems = append(f.problems, what)
	f.fixes = append(f.fixes, fix)
}

func (p *Preflight) text(env *steps.Env, t ref.Template, def string) (string, error) {
	if t.IsZero() {
		return def, nil
	}
	return env.Text(t)
}

func (p *Preflight) find(ctx context.Context, env *steps.Env) (*finding, error) {
	f := &finding{outs: steps.Outputs{}}
	bin, err := p.text(env, p.Bin, "pgbackrest")
	if err != nil {
		return nil, err
	}
	config, err := env.Text(p.Config)
	if err != nil {
		return nil, err
	}
	stanza, err := env.Text(p.Stanza)
	if err != nil {
		return nil, err
	}
	// pgBackRest
	pgbr := ""
	if path, err := exec.LookPath(bin); err != nil {
		f.problem(fmt.Sprintf("pgBackRest is not installed: %s not found (PATH=%s)", bin, os.Getenv("PATH")), "install it (apt-get install pgbackrest) or pass -p pgbackrest-bin=/path/to/pgbackrest")
	} else if out, err := exec.CommandContext(ctx, path, "version").Output(); err != nil {
		f.problem(fmt.Sprintf("%s version failed: %v", path, err), "check the pgBackRest installation")
	} else {
		pgbr = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(out)), "pgBackRest"))
		f.outs.Set("pgbackrest_bin", path)
	}
	f.outs.Set("pgbackrest_version", pgbr)
	// The server
	conn, err := p.Connect(ctx, env)
	if err != nil {
		f.problem(err.Error(), "set PGHOST/PGPORT/PGUSER (or -p conn=…) to reach the server as a superuser")
		return f, nil
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var super bool
	var vnum int
	var version, dataDir, mode, hba, port, sockets, archMode, archCmd string
	var sysid int64
	err = conn.QueryRow(ctx, `SELECT rolsuper, current_setting('server_version_num')::int, current_setting('server_version'),
		current_setting('data_directory'), current_setting('data_directory_mode'), current_setting('hba_file'),
		current_setting('port'), current_setting('unix_socket_directories'), current_setting('archive_mode'),
		current_setting('archive_command'), (SELECT system_identifier FROM pg_control_system())
		FROM pg_roles WHERE rolname = current_user`).Scan(&super, &vnum, &version, &dataDir, &mode, &hba, &port, &sockets, &archMode, &archCmd, &sysid)
	if err != nil {
		f.problem(fmt.Sprintf("read the server's settings: %v", err), "connect as a superuser (the admin connection must be able to read data_directory and hba_file)")
		return f, nil
	}
	if !super {
		f.problem("the admin connection is not a superuser", "connect as postgres (or another superuser): ALTER SYSTEM, pg_hba and grants need it")
	}
	if vnum < 110000 {
		f.problem("PostgreSQL "+version+" has no group access mode (11+)", "upgrade, or follow the seed's setgid procedure by hand")
	}
	major := strconv.Itoa(vnum / 10000)
	socket := strings.TrimSpace(strings.Split(sockets, ",")[0])
	if socket == "" || strings.HasPrefix(socket, "@") {
		f.problem(fmt.Sprintf("the server listens on no Unix socket directory (unix_socket_directories=%q)", sockets),
			"the backup role is let in only over the socket (local lines in pg_hba): set unix_socket_directories (Debian's default is /var/run/postgresql) and restart, then run again")
	}
	f.outs.Set("version", version).Set("major", major).Set("data_directory", dataDir).Set("data_directory_mode", mode).
		Set("hba_file", hba).Set("port", port).Set("socket_dir", socket).Set("archive_mode", archMode).Set("archive_command", archCmd)
	f.outs.Set("backup_start", pg.BackupFunctions(vnum)[0]).Set("backup_stop", pg.BackupFunctions(vnum)[1])
	// The data directory is the server's: its pg_control says the same system identifier.
	fi, err := os.Stat(dataDir)
	if err != nil {
		f.problem(fmt.Sprintf("data directory %s is not on this host: %v", dataDir, err), "run cairn on the database host")
	} else {
		st := fi.Sys().(*syscall.Stat_t)
		owner, group := strconv.Itoa(int(st.Uid)), strconv.Itoa(int(st.Gid))
		if u, err := user.LookupId(owner); err == nil {
			owner = u.Username
		}
		if g, err := user.LookupGroupId(group); err == nil {
			group = g.Name
		}
		f.outs.Set("server_user", owner).Set("server_group", group)
		if id, err := controlSysID(ctx, major, dataDir); err != nil {
			f.problem(fmt.Sprintf("pg_controldata %s: %v", dataDir, err), "check the data directory")
		} else if id != sysid {
			f.problem(fmt.Sprintf("%s is not this server's data directory (system identifier %d, the server's is %d)", dataDir, id, sysid), "connect to the server whose data directory this is")
		}
		if grp, err := user.LookupGroup(group); err == nil && p.OSUser.IsZero() == false {
			if name, err := env.Text(p.OSUser); err == nil {
				if u, err := user.Lookup(name); err == nil && u.Gid != grp.Gid {
					f.problem(fmt.Sprintf("OS user %s exists with primary group %s, not the server's group %s", name, groupNameOf(u.Gid), group), "choose another os-user, or change that account by hand")
				}
			}
		}
	}
	// The stanza's configuration, when it exists, must point at this data directory.
	if b, err := os.ReadFile(config); err == nil {
		if p1, ok := host.ReadINI(string(b), stanza, "pg1-path"); ok && filepath.Clean(p1) != filepath.Clean(dataDir) {
			msg := fmt.Sprintf("%s says [%s] pg1-path=%s, but the server's data directory is %s", config, stanza, p1, dataDir)
			if id, err := controlSysID(ctx, major, p1); err == nil && id != sysid {
				msg += fmt.Sprintf(" (%s belongs to another cluster, system identifier %d)", p1, id)
			}
			f.problem(msg, "fix pg1-path in the configuration, or choose the stanza of this server")
		}
		f.outs.Set("config_exists", "true")
	} else {
		f.outs.Set("config_exists", "false")
	}
	// Archiving: never replace someone else's archiver.
	if archCmd != "" && archCmd != "(disabled)" && !strings.Contains(archCmd, "pgbackrest") {
		f.problem(fmt.Sprintf("archive_command is already set to %q", archCmd), "this server archives WAL elsewhere: decide with its owner before switching it to pgBackRest")
	}
	// The role name, if taken, must hold nothing but the backup grants.
	if !p.Role.IsZero() {
		name, err := env.Text(p.Role)
		if err != nil {
			return nil, err
		}
		rf, err := pg.ReadRole(ctx, conn, name)
		if err != nil {
			f.problem(err.Error(), "connect as a superuser")
		} else if rf.Exists {
			_, extra, err := pg.RoleDiff(ctx, conn, rf, BackupRoleWant(vnum))
			if err != nil {
				f.problem(err.Error(), "")
			} else if len(extra) > 0 {
				f.problem(fmt.Sprintf("role %s already exists with other privileges: %s", name, strings.Join(extra, ", ")), "choose another db-role; cairn will not turn an existing role with more rights into the backup role")
			}
		}
	}
	f.summary = fmt.Sprintf("PostgreSQL %s, data directory %s (%s:%s, mode %s), hba_file %s, archive_mode=%s; pgBackRest %s",
		version, dataDir, f.outs["server_user"].Value, f.outs["server_group"].Value, mode, hba, archMode, pgbr)
	return f, nil
}

func groupNameOf(gid string) string {
	if g, err := user.LookupGroupId(gid); err == nil {
		return g.Name
	}
	return gid
}

// controlSysID reads a data directory's system identifier with pg_controldata.
func controlSysID(ctx context.Context, major, dir string) (int64, error) {
	bin := filepath.Join("/usr/lib/postgresql", major, "bin", "pg_controldata")
	if _, err := os.Stat(bin); err != nil {
		bin = "pg_controldata"
	}
	out, err := exec.CommandContext(ctx, bin, "-D", dir).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, strings.TrimSpace(string(out)))
	}
	for _, l := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "Database system identifier" {
			return strconv.ParseInt(strings.TrimSpace(v), 10, 64)
		}
	}
	return 0, errors.New("no system identifier in its output")
}

// OutputNames declares the outputs.
func (p *Preflight) OutputNames() []string {
	return []string{"pgbackrest_bin", "pgbackrest_version", "version", "major", "data_directory", "data_directory_mode", "hba_file", "port", "socket_dir",
		"archive_mode", "archive_command", "backup_start", "backup_stop", "server_user", "server_group", "config_exists"}
}

// Describe lists what is read.
func (p *Preflight) Describe(env *steps.Env) []steps.Action {
	target := p.Conn.Describe(env)
	bin := "pgbackrest"
	if !p.Bin.IsZero() {
		bin = env.Describe(p.Bin)
	}
	return []steps.Action{
		{Kind: steps.ActSQL, Target: target, Text: "SELECT rolsuper, server_version_num, data_directory, data_directory_mode, hba_file, port, unix_socket_directories, archive_mode, archive_command, pg_control_system().system_identifier  -- reads only"},
		{Kind: steps.ActExec, Target: "local", Text: bin + " version\npg_controldata -D <data_directory>   # same system identifier as the server"},
		{Kind: steps.ActFile, Target: "local", Text: "read " + env.Describe(p.Config) + " if it exists: [" + env.Describe(p.Stanza) + "] pg1-path must be the server's data directory"},
		{Kind: steps.ActSQL, Target: target, Text: "-- if role " + env.Describe(p.Role) + " exists: it must hold nothing beyond LOGIN, INHERIT, pg_read_all_settings and EXECUTE on the backup, restore-point and switch-wal functions"},
	}
}

// Check reads everything; problems block before anything changes.
func (p *Preflight) Check(ctx context.Context, env *steps.Env) steps.Check {
	f, err := p.find(ctx, env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.CannotTell("%v", err)
	}
	if len(f.problems) > 0 {
		var fixes []string
		for i, fx := range f.fixes {
			if fx != "" {
				fixes = append(fixes, fmt.Sprintf("%d. %s", i+1, fx))
			}
		}
		var probs []string
		for i, pr := range f.problems {
			probs = append(probs, fmt.Sprintf("%d. %s", i+1, pr))
		}
		return steps.BlockedBy(strings.Join(probs, "\n"), strings.Join(fixes, "\n"))
	}
	return steps.Check{State: steps.Done, Change: steps.Read, Reason: "prerequisites in place (reads only): " + f.summary}
}

// Observe reads the outputs.
func (p *Preflight) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	f, err := p.find(ctx, env)
	if err != nil {
		return nil, err
	}
	if len(f.problems) > 0 {
		return nil, errors.New(strings.Join(f.problems, "; "))
	}
	return f.outs, nil
}

// Apply reads (the same as Observe).
func (p *Preflight) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return p.Observe(ctx, env)
}

// Verify has nothing to prove.
func (p *Preflight) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (p *Preflight) Rollback(context.Context, *steps.Env) error { return nil }
