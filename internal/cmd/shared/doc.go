// Package shared is what several cairn verbs do the same way (cli/cli keeps these beside its verbs
// in pkg/cmd/<noun>/shared): load the catalog and a run's own runbook (catalog.go), resolve
// parameters and ask for secrets (secrets.go), talk to a run's live runner (live.go), fold runs
// into summaries (runs.go), the flags and policy of a run (runflags.go), start a runner again on an
// existing run (restart.go, takeover.go), build the verbs that share one shape (verbs.go), watch a
// run in plain lines (watch.go) and open the TUI on one (tui.go). It never exits and holds no
// state of its own.
package shared
