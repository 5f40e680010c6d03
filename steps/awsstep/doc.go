// Package awsstep holds the AWS step kinds cairn's RDS runbooks are built from: a read-only
// preflight of an RDS PostgreSQL instance, a KMS key check, manual snapshots and encrypted copies of
// them, a restore that copies the source's settings, a new encrypted instance, a rename that waits
// for the new name to answer and be available (or only to answer, the wait for available then its
// own step), a delete that keeps a final snapshot, and for logical
// replication a copied parameter group with rds.logical_replication=1 and the reboot that applies it.
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
//
// What Check accepts as done, and what binds it to this target (steps/LOOKALIKES.md has every kind):
// what rds-snapshot, rds-restore and rds-create-instance make is tagged with this run's id
// (cairn:run-id) and the source's DbiResourceId (cairn:source-resource-id), and is done only with
// this run's tag — so is what rds-delete-rebuild deletes (runtags.go);
// a snapshot only when its DbiResourceId is the instance's as it is now (an identifier can be reused,
// a resource id cannot); an encrypted copy only when its DbiResourceId and OriginalSnapshotCreateTime
// are its source snapshot's; an instance only with the key, every setting and (create) a real login
// with the password; an IAM role only with cairn's managed tag, its trust and its one policy; a role
// association only with this ARN for this feature. A thing of the same name that is not this
// target's is blocked with the fix — never done, never overwritten.
package awsstep

import "github.com/cairn-runbooks/cairn/steps"

// Register adds the AWS kinds; each kind's name and summary sit beside its type.
func Register(r *steps.Registry) {
	registerPreflight(r)
	registerWindowReady(r)
	registerKMSKey(r)
	registerSnapshot(r)
	registerCopySnapshot(r)
	registerRestore(r)
	registerCreate(r)
	registerRename(r)
	registerAvailable(r)
	registerDelete(r)
	registerDeleteRebuild(r)
	registerLeftovers(r)
	registerIAMRole(r)
	registerAddRole(r)
	registerLogicalReplication(r)
	registerReboot(r)
}
