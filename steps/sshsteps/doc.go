// Package sshsteps holds the step kinds that set up a forced-command ssh key for cron-driven
// rsync backups (named sshsteps so it never shadows golang.org/x/crypto/ssh):
//
//   - ssh-backup-preflight: read-only checks of everything the others need. Changes nothing.
//   - ssh-keypair: an ed25519 key pair without passphrase on this host. Never overwrites a file;
//     rollback removes only a key it made (its comment says so).
//   - rsync-forced-command: derives the exact `rsync --server …` line, or the rrsync / history-safe
//     wrapper command, and the client line cron runs. Changes nothing.
//   - ssh-authorized-key: appends one restricted entry to a login's authorized_keys on the backup
//     host. Never rewrites existing lines; rollback removes exactly that line.
//   - sshd-config: sets one sshd_config keyword on the backup host via copy → sshd -t → rename →
//     reload, judged by sshd -T. Rollback removes exactly its block.
//   - ssh-key-proof: proves the installed key does the backup and nothing else. Changes only what a
//     real backup run changes (a new backup on the backup host).
//
// The backup host is reached with the engineer's own access (golang.org/x/crypto/ssh, host key
// checked against known_hosts — an unknown or changed key is refused before anything is sent),
// as root through sudo -n when the admin login is not root. Nothing here touches files other than
// the ones named in a step's parameters, and backup copies next to them, which rollback keeps.
//
// What Check accepts as done (steps/LOOKALIKES.md): a key pair only when its .pub is the private
// key's own; an authorized_keys entry by its key, options and label (the same key with other options
// blocks: sshd reads the first matching line); sshd_config by sshd -T's effective value. The
// preflight, the forced-command derivation and the proof read or prove afresh and are never done.
package sshsteps

import "github.com/cairn-runbooks/cairn/steps"

// Register adds the kinds.
func Register(r *steps.Registry) {
	r.Register("ssh-backup-preflight", "read-only checks before installing a backup key (paths, host key, rsync, sudo, dest, cron)", func() steps.Step { return &Preflight{} })
	r.Register("ssh-keypair", "an ed25519 key pair without passphrase (never overwrites)", func() steps.Step { return &Keypair{} })
	r.Register("rsync-forced-command", "derive the forced command for a cron rsync push (rsync-server, rrsync, history-safe)", func() steps.Step { return &ForcedCommand{} })
	r.Register("ssh-authorized-key", "append a restricted command=/from= entry to authorized_keys on a remote host", func() steps.Step { return &AuthorizedKey{} })
	r.Register("sshd-config", "set one sshd_config keyword (copy, sshd -t, put in place, reload, sshd -T)", func() steps.Step { return &SSHDConfig{} })
	r.Register("ssh-key-proof", "prove a forced-command backup key does the backup and nothing else", func() steps.Step { return &Proof{} })
}
