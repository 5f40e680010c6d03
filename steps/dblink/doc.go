// Package dblink holds the database side of the dblink-secret runbook: dblink connections whose
// password comes from AWS Secrets Manager through a Lambda function and RDS's aws_lambda extension,
// so the database stores no password and no function hands one out.
//
// Kinds: `dblink-secret-preflight` (reads only: the instance, the admin connection, the extensions,
// the grant-to roles, the secret and the remote it names, the function and role names), `pg-extension`
// (CREATE EXTENSION … CASCADE, marked as cairn's so rollback drops only what it created),
// `dblink-secret-function` (a schema with the allow-list table and ONE SECURITY DEFINER function,
// connect_remote(conn_name, secret_id)) and `dblink-secret-verify` (proves the grants and a real
// connection through the whole chain).
//
// What they change: only the named schema (created, owned by the admin user, marked by its comment),
// the NOLOGIN role made to own connect_remote (marked by its comment; it holds only what the function
// needs) and the extensions they created. What they never touch: other schemas, other roles (grant-to
// roles are only granted EXECUTE on connect_remote and USAGE on its schema), extensions someone else
// created. What rollback undoes: drops the schema (with its table and function), then the owner role,
// and the extensions cairn made.
//
// What Check accepts as done (steps/LOOKALIKES.md): extensions by their rows in pg_extension
// (functions of the same names made by hand are not the extension); the schema only with cairn's
// marker, its NOLOGIN owner, cairn's objects alone, the function, grants and allow-list as described
// (a schema of the same name cairn did not make blocks). The preflight and verify never say done.
package dblink
