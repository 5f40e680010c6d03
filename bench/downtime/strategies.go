package main

// strategy is one row family of the table: how `cairn run rds-encrypt` is asked to rebuild app-db.
// A new strategy is one more entry.
type strategy struct {
	name string
	// params are the -p assignments besides instance, kms-key and credentials-secret.
	params []string
	// confirm names the steps whose typed confirmation is the instance's name: the quiesce (every
	// strategy's window starts there, and --yes does not start it) and the strategy's own.
	confirm []string
	// cutover names the steps whose AWS operations are the cut-over's own (their apply and verify
	// times, read from the journal, are what the realistic target allows besides 10 s).
	cutover []string
	// measured is the step whose output `seconds` is the downtime cairn measured itself, if any.
	measured string
}

// rolesSecret holds the application roles' passwords for the strategies that cannot copy them
// (pg_dumpall cannot read them on RDS); the bench creates it in the twin.
const rolesSecret = "cairn/app-db/roles"

var strategies = []strategy{
	{name: "snapshot-copy", params: []string{"strategy=snapshot-copy"}, confirm: []string{"quiesce"},
		cutover: []string{"rename-source", "rename-target"}},
	{name: "logical", params: []string{"strategy=logical", "copy-method=stream", "passwords-secret=" + rolesSecret}, confirm: []string{"quiesce"},
		cutover: []string{"rename-source", "rename-target"}},
	{name: "replicate", params: []string{"strategy=replicate", "passwords-secret=" + rolesSecret}, confirm: []string{"reboot", "quiesce"},
		cutover: []string{"rename-source", "rename-target"}, measured: "downtime"},
}
