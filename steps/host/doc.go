// Package host holds the step kinds that change the database host itself, run as root:
//
//   - `os-user` creates an OS user with a given primary group and home (useradd). It never changes an
//     existing account: a user that exists with another primary group blocks the step. Rollback
//     removes the user and its home only when this step created them (recorded in the run's WorkDir).
//   - `path-mode` sets owner, group and mode on paths, creates missing directories, can open a whole
//     tree for group reading (never group writing) and makes parent directories searchable for a user.
//     Before changing anything it records every path's original mode, owner and group in the run's
//     WorkDir; rollback restores exactly those and removes the directories it created (with what
//     was put in them since).
//   - `config-file` writes an INI-style configuration file (pgBackRest's): it creates the file, or
//     changes only the keys the runbook names, keeping every other line and comment. The plan shows
//     the new file or a unified diff. The original is kept in the WorkDir and next to the file
//     (<file>.cairn.bak); rollback puts the original back byte for byte, with its mode and owner, or
//     removes a file (and parent directories) it created.
//   - `run-as` runs a command as another OS user (runuser, so HOME is the user's and libpq finds its
//     .pgpass), with check, verify and rollback commands run as that user too.
//
// Nothing here touches a path, user or file the runbook does not name; checks only read (stat,
// getent, reading files).
//
// What Check accepts as done (steps/LOOKALIKES.md): an account by its group and home, not its name
// alone; a path itself (lstat: a symbolic link at a named path is refused, never chmod'ed through); a
// configuration file by its keys' values; a crontab entry by its whole text under cairn's marker (the
// marker over another entry blocks). run-as is done when the runbook's own check command says so.
package host

import "github.com/cairn-runbooks/cairn/steps"

// Register adds the host kinds.
func Register(r *steps.Registry) {
	r.Register("os-user", "an OS user with a primary group and a home; rollback removes it only if cairn created it", func() steps.Step { return &OSUser{} })
	r.Register("path-mode", "owners, groups and modes of paths (and trees), recorded for exact rollback", func() steps.Step { return &PathMode{} })
	r.Register("config-file", "an INI configuration file created or changed key by key, with backup, diff and exact rollback", func() steps.Step { return &ConfigFile{} })
	r.Register("run-as", "a command run as another OS user, with check, verify and rollback commands", func() steps.Step { return &RunAs{} })
}
