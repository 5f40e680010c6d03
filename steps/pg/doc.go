// Package pg holds the PostgreSQL step kinds. `sql` runs statements through pgx in one transaction
// (bound parameters, quoted identifiers and literals — never pasted text), with an optional check
// query (true = already done), verify query (true = in place) and rollback statements. It changes only
// what its statements change; its rollback runs only the runbook's rollback statements.
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
