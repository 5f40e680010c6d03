package common

import "github.com/cairn-runbooks/cairn/runbooks"

// Navigation messages: pages ask the root model to move on; the root calls Deps.

// ChooseRunbookMsg opens the Parameters page for a runbook.
type ChooseRunbookMsg struct{ Runbook *runbooks.Runbook }

// AttachRunMsg follows an unfinished run.
type AttachRunMsg struct{ RunID string }

// ParamsDoneMsg carries the form's values to resolve and plan.
type ParamsDoneMsg struct {
	Runbook *runbooks.Runbook
	Given   map[string]string
}

// StartRunMsg starts the reviewed plan.
type StartRunMsg struct {
	Runbook *runbooks.Runbook
	Values  runbooks.Values
}

// BackMsg returns to the previous page.
type BackMsg struct{}

// QuitMsg leaves the TUI; Message is printed after the screen is restored.
type QuitMsg struct{ Message string }
