package pg

import (
	"context"
	"errors"
	"os"
	"path/filepath"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// registerMore adds the kinds that change a server's host-side configuration and roles:
//
//   - `pg-hba` inserts pg_hba.conf lines before the first line of their connection type, validates
//     the file through pg_hba_file_rules before reloading, restores it when invalid; rollback puts
//     the original file back byte for byte and reloads.
//   - `pg-role` creates a role (attributes, password from a .pgpass entry as a SCRAM verifier,
//     memberships, EXECUTE on functions — the backup functions named as the server's version names
//     them); with `exclusive` it also proves the role holds nothing else. Rollback drops a role it
//     created, or revokes exactly the grants it added.
//   - `pgpass` adds an entry with a generated password to an OS user's ~/.pgpass (0600, owned by
//     the user); the password never leaves the file and the role that reads it. Rollback restores the
//     file as it was.
//   - `pg-settings` changes server settings with ALTER SYSTEM and reloads; rollback restores the
//     recorded postgresql.auto.conf values, and restarts when a setting needs it and that is allowed.
//   - `pg-restart` restarts the server through the host's service manager (systemctl, pg_ctlcluster)
//     or pg_ctl as the data directory's owner, when a setting or the data directory's mode waits for
//     it; or hands the engineer the exact command when restarting is not allowed.
func registerMore(r *steps.Registry) {
	r.Register("pg-hba", "pg_hba.conf lines placed before their type's first line, validated before reload", func() steps.Step { return &HBA{} })
	r.Register("pg-role", "a role with exact attributes, memberships and EXECUTE grants (version-aware backup functions)", func() steps.Step { return &Role{} })
	r.Register("pgpass", "a ~/.pgpass entry with a generated password, 0600, owned by the OS user", func() steps.Step { return &PGPass{} })
	r.Register("pg-settings", "server settings via ALTER SYSTEM, recorded for exact rollback", func() steps.Step { return &Settings{} })
	r.Register("pg-restart", "a server restart through the service manager or pg_ctl, when a setting or the data directory mode needs it", func() steps.Step { return &Restart{} })
}

// record helpers: what a step found before changing anything, in the run's WorkDir.
func recordFile(env *steps.Env, name string) (string, error) {
	if env.WorkDir == "" {
		return "", errors.New("the run has no work directory to record original state in")
	}
	id := []rune(env.StepID)
	for i, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			id[i] = '_'
		}
	}
	return filepath.Join(env.WorkDir, "pg-"+string(id)+"-"+name), nil
}

func readRecord(env *steps.Env, name string) ([]byte, bool, error) {
	p, err := recordFile(env, name)
	if err != nil {
		return nil, false, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	return b, err == nil, err
}

func writeRecord(env *steps.Env, name string, b []byte) error {
	p, err := recordFile(env, name)
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(p, b, 0o600)
}

func dropRecord(env *steps.Env, name string) {
	if p, err := recordFile(env, name); err == nil {
		_ = os.Remove(p)
	}
}

// show reads one setting.
func show(ctx context.Context, conn *pgx.Conn, name string) (string, error) {
	var v string
	err := conn.QueryRow(ctx, "SELECT current_setting($1)", name).Scan(&v)
	return v, err
}
