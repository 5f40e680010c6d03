// Package pg holds the PostgreSQL step kinds. `sql` runs statements through pgx in one transaction
// (bound parameters, quoted identifiers and literals — never pasted text), with an optional check
// query (true = already done), verify query (true = in place) and rollback statements. It changes only
// what its statements change; its rollback runs only the runbook's rollback statements.
//
// The other kinds change a server's host-side configuration and roles:
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
//
// Connections come from the step's `conn` (a libpq connection string without a password) or libpq's
// environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSFILE/.pgpass); a password, when needed, comes
// from a secret parameter or output bound to `password` — never from the connection string.
//
// What Check accepts as done (steps/LOOKALIKES.md): a role by every attribute, privilege and its
// password's SCRAM verifier, not its name (one that can do more blocks); a .pgpass entry by its whole
// key and its place (an earlier line libpq would read instead blocks); pg_hba.conf lines by their
// position and the server's load time; a setting by the value that wins in the files. sql is done when
// the runbook's own check query says so.
package pg

import "github.com/cairn-runbooks/cairn/steps"

// Register adds the PostgreSQL kinds; each kind's name and summary sit beside its type.
func Register(r *steps.Registry) {
	registerSQL(r)
	registerHBA(r)
	registerRole(r)
	registerPGPass(r)
	registerSettings(r)
	registerRestart(r)
}
