// Package pg holds the PostgreSQL step kinds. `sql` runs statements through pgx in one transaction
// (bound parameters, quoted identifiers and literals — never pasted text), with an optional check
// query (true = already done), verify query (true = in place) and rollback statements. It changes only
// what its statements change; its rollback runs only the runbook's rollback statements.
//
// Connections come from the step's `conn` (a libpq connection string without a password) or libpq's
// environment (PGHOST, PGPORT, PGUSER, PGDATABASE, PGPASSFILE/.pgpass); a password, when needed, comes
// from a secret parameter or output bound to `password` — never from the connection string.
package pg
