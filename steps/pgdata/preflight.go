package pgdata

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Preflight is the `pg-preflight` kind: it reads only. The credentials work on the source; the
// local pg_dump, pg_restore and pg_dumpall are at least the server's major version; and, when Dir is
// given, its file system has room for the dump (1.2 × the sum of pg_database_size: an uncompressed
// directory dump holds the data without indexes, so this is a generous bound). Every problem is
// listed with its fix. It refuses, too, a source whose login roles would have no password on the
// new instance (pg_dumpall cannot read them on RDS) unless PasswordsSecret gives them.
type Preflight struct {
	Source          Server       `yaml:"source"`
	Dir             ref.Template `yaml:"dir"`
	PasswordsSecret ref.Template `yaml:"passwords-secret"`
}

// OutputNames declares the outputs.
func (p *Preflight) OutputNames() []string { return []string{"databases", "server-version", "bytes"} }

// Describe lists what is read.
func (p *Preflight) Describe(env *steps.Env) []steps.Action {
	acts := []steps.Action{
		{Kind: steps.ActSQL, Target: p.Source.describe(env), Text: "SELECT current_setting('server_version_num'), sum(pg_database_size(datname)) FROM pg_database WHERE <not template, not rdsadmin>"},
		{Kind: steps.ActExec, Target: "local", Text: "pg_dump --version; pg_restore --version; pg_dumpall --version"},
		passwordsAction(env, p.Source, p.PasswordsSecret),
	}
	if d := env.Describe(p.Dir); d != "" {
		acts = append(acts, steps.Action{Kind: steps.ActExec, Target: "local", Text: "statfs " + d})
	}
	return acts
}

type facts struct {
	dbs      []string
	major    int
	version  string
	bytes    int64
	problems []string
	fixes    []string
}

func (p *Preflight) look(ctx context.Context, env *steps.Env) (facts, error) {
	var f facts
	src, err := p.Source.resolve(ctx, env)
	if err != nil {
		return f, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		f.problems = append(f.problems, err.Error())
		f.fixes = append(f.fixes, "check credentials-secret (or PGUSER/PGPASSWORD/.pgpass) and that this host can reach the instance (security groups)")
		return f, nil
	}
	defer c.Close(context.WithoutCancel(ctx))
	var num int
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int, current_setting('server_version')").Scan(&num, &f.version); err != nil {
		return f, err
	}
	f.major = num / 10000
	if f.dbs, err = databases(ctx, c); err != nil {
		return f, err
	}
	if err := c.QueryRow(ctx, "SELECT coalesce(sum(pg_database_size(datname)), 0)::bigint FROM pg_database WHERE datname = ANY($1)", f.dbs).Scan(&f.bytes); err != nil {
		return f, err
	}
	if problem, fix, err := passwordFindings(ctx, env, c, p.Source.Region, p.PasswordsSecret); err != nil {
		return f, err
	} else if problem != "" {
		f.problems = append(f.problems, problem)
		f.fixes = append(f.fixes, fix)
	}
	for _, tool := range []string{"pg_dump", "pg_restore", "pg_dumpall", "psql"} {
		m, err := toolMajor(tool)
		if err != nil {
			f.problems = append(f.problems, err.Error())
			f.fixes = append(f.fixes, fmt.Sprintf("install the PostgreSQL %d client (apt-get install postgresql-client-%d)", f.major, f.major))
			continue
		}
		if m < f.major {
			f.problems = append(f.problems, fmt.Sprintf("local %s is version %d, older than the server's %d", tool, m, f.major))
			f.fixes = append(f.fixes, fmt.Sprintf("install the PostgreSQL %d client and put it first on PATH", f.major))
		}
	}
	dir, err := env.Text(p.Dir)
	if err != nil {
		return f, err
	}
	if dir != "" {
		probe := dir
		for {
			if _, err := os.Stat(probe); err == nil || probe == "/" || probe == "." {
				break
			}
			probe = filepath.Dir(probe)
		}
		var st unix.Statfs_t
		if err := unix.Statfs(probe, &st); err != nil {
			f.problems = append(f.problems, fmt.Sprintf("cannot read free space of %s: %v", probe, err))
			f.fixes = append(f.fixes, "give a dump-dir on a local file system")
		} else if free := int64(st.Bavail) * int64(st.Bsize); free < f.bytes*12/10 {
			f.problems = append(f.problems, fmt.Sprintf("%s has %d MB free; the dump needs up to %d MB (1.2 × %d MB of databases)", probe, free>>20, f.bytes*12/10>>20, f.bytes>>20))
			f.fixes = append(f.fixes, "give a dump-dir with more room, or free space")
		}
	}
	return f, nil
}

// Check runs the preflight.
func (p *Preflight) Check(ctx context.Context, env *steps.Env) steps.Check {
	f, err := p.look(ctx, env)
	if err != nil {
		return unknownOr(err, "check the source's connection")
	}
	if len(f.problems) > 0 {
		return f.blocked()
	}
	return steps.ReadyTo(steps.Read, "PostgreSQL %s, %d databases (%s), %d MB", f.version, len(f.dbs), strings.Join(f.dbs, ", "), f.bytes>>20)
}

// blocked is the check for the problems found: every one, and every fix.
func (f facts) blocked() steps.Check {
	return steps.BlockedBy(strings.Join(f.problems, "; "), strings.Join(f.fixes, "; "))
}

// Apply records what it found.
func (p *Preflight) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	f, err := p.look(ctx, env)
	if err != nil {
		return nil, err
	}
	if len(f.problems) > 0 {
		return nil, f.blocked().Err()
	}
	env.Info(fmt.Sprintf("PostgreSQL %s; databases: %s; %d MB", f.version, strings.Join(f.dbs, ", "), f.bytes>>20))
	return steps.Outputs{}.Set("databases", strings.Join(f.dbs, ",")).Set("server-version", f.version).Set("bytes", fmt.Sprint(f.bytes)), nil
}

// Verify has nothing to prove.
func (p *Preflight) Verify(ctx context.Context, env *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (p *Preflight) Rollback(ctx context.Context, env *steps.Env) error { return nil }

// Register adds the PostgreSQL data kinds.
func Register(r *steps.Registry) {
	r.Register("pg-preflight", "read a PostgreSQL source: credentials, client versions, disk for the dump", func() steps.Step { return &Preflight{} })
	r.Register("pg-globals-dump", "pg_dumpall --globals-only --no-role-passwords, filtered for a non-superuser master", func() steps.Step { return &GlobalsDump{} })
	r.Register("pg-globals-restore", "replay filtered globals in one transaction; passwords from a secret", func() steps.Step { return &GlobalsRestore{} })
	r.Register("pg-quiesce", "block application roles, end their sessions, record the WAL position (or lift)", func() steps.Step { return &Quiesce{} })
	r.Register("pg-wal-check", "prove nothing was written to the source since the quiesce", func() steps.Step { return &WALCheck{} })
	r.Register("pg-dump", "pg_dump -Fd -j N of every database under one exported snapshot, with row counts", func() steps.Step { return &Dump{} })
	r.Register("pg-restore", "schema by pg_restore --create, rows by parallel COPY FREEZE from the dump, indexes as each table lands, the rest by pg_restore -j N; a failed database is dropped", func() steps.Step { return &Restore{} })
	r.Register("pg-compare-rows", "compare every table's row count between a quiesced source and its physical copy", func() steps.Step { return &CompareRows{} })
	r.Register("pg-verify-rows", "count every table (and checksums) on the source and the target, the manifest a third witness; or, the source gone, against the manifest bound to it", func() steps.Step { return &VerifyRows{} })
	registerStream(r)
	registerReplication(r)
}
