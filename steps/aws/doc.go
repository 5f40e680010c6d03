// Package awsstep holds the AWS step kinds cairn's RDS runbooks are built from: a read-only
// preflight of an RDS PostgreSQL instance, a KMS key check, manual snapshots and encrypted copies of
// them, a restore that copies the source's settings, a new encrypted instance, a rename that waits
// for the new name to answer and be available, and a delete that keeps a final snapshot.
//
// What they change: only the instances and snapshots named in their `with:` blocks. What they never
// touch: other instances, KMS keys (only read), secrets (only read; a value read is registered for
// redaction and never returned as a plain output). What rollback undoes: a snapshot, copy, restore
// or create is deleted again (a snapshot never while it is the only copy of a deleted instance); a
// rename is renamed back; a delete cannot be rolled back — the runbook's cut-back restores the
// instance from its snapshot.
//
// AWS configuration comes from the standard chain (profiles, environment, AWS_ENDPOINT_URL), so the
// same runbook runs against AWS and against cairn's rehearsal twin. Every call a step makes is listed
// by Describe with its inputs.
package awsstep
