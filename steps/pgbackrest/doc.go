// Package pgbackrest holds the pgBackRest step kinds, run on the database host:
//
//   - `pgbackrest-preflight` only reads: the server (version, data_directory and its system
//     identifier against pg_controldata, hba_file, archive settings), the pgBackRest binary and
//     version, the stanza's configuration if it exists, the backup role if it exists. Every missing
//     prerequisite is reported together, with its fix, before anything changes. Its outputs
//     (data_directory, port, socket_dir, server_user, server_group, …) feed later steps.
//   - `pgbackrest` runs one pgBackRest command (stanza-create, check, backup, info, expire) as a
//     given OS user (runuser), judging from `pgbackrest info --output=json` and pgBackRest's own
//     expire log whether it is already done. Rollback: stanza-create's deletes the stanza it created
//     (stop, stanza-delete --force, start, as root); backups, checks and expiry are not undone on
//     their own — they live in the stanza.
//
// Nothing here edits pgBackRest's configuration or the repository's modes (steps/host does).
//
// What Check accepts as done (steps/LOOKALIKES.md): for every command, a stanza only when the system
// id the repository records for it is the cluster's at pg1-path (read from its global/pg_control): a
// stanza of the same name made for another cluster is blocked, with the fix, and nothing is run.
package pgbackrest

import "github.com/cairn-runbooks/cairn/steps"

// Register adds the pgBackRest kinds.
func Register(r *steps.Registry) {
	r.Register("pgbackrest-preflight", "reads the server, pgBackRest and the stanza's configuration; refuses with every missing prerequisite", func() steps.Step { return &Preflight{} })
	r.Register("pgbackrest", "a pgBackRest command (stanza-create, check, backup, info, expire) as a given OS user", func() steps.Step { return &Command{} })
}
