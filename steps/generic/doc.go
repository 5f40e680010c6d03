// Package generic holds the step kinds that belong to no domain: `exec` (a command as argv, with
// optional check/verify/rollback commands), `manual` (a checklist the engineer ticks off by hand) and
// `wait` (poll a condition until it holds, with progress). exec changes only what its command changes;
// its rollback runs only the runbook's rollback command. manual and wait change nothing themselves.
//
// What Check accepts as done (steps/LOOKALIKES.md): exec, what the runbook's own check command
// says; wait, its condition holding now; manual, never.
package generic
