// Package pgdata holds the PostgreSQL data-moving kinds of cairn's rebuild runbooks: a preflight of
// credentials, client versions and disk; a globals dump (`pg_dumpall --globals-only
// --no-role-passwords`, filtered of RDS-owned roles and of what a non-superuser cannot replay) and
// its restore in one transaction; a quiesce that blocks application roles and records the WAL
// position, and the check that it has not moved; a per-database `pg_dump -Fd -j N` under one
// exported snapshot with per-table row counts (and optional checksums) from that same snapshot;
// `pg_restore --exit-on-error -j N` into a fresh database that is dropped again if the restore
// fails; a row-count/checksum verify; and a streamed copy (no intermediate file: parallel COPY
// under one exported snapshot, indexes built in parallel afterwards).
//
// What they change: the dump directory, and on the target only databases and roles named in the
// dump. What they never touch: databases on the source (the quiesce changes only application roles'
// connection limits, and its lift puts them back), RDS-owned roles. Passwords travel in the
// children's environment (PGPASSWORD), never in argv or files — except a subscription's connection
// string, which the target server keeps in pg_subscription (superuser-only) until the cut-over drops
// it. Rollback: dumps are removed, restored databases dropped, roles created by the globals restore
// dropped, the quiesce lifted; subscriptions, this run's slots and publications dropped, replica
// identities put back.
package pgdata
