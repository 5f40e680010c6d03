package events

import "strings"

// Result is one thing a step said it found or did once its check had passed: an info line it
// emitted while it applied or verified ("rows: 5 tables …", "WAL moved … (server housekeeping)"),
// a warning it printed, or how its verify ended. The report, the plain view and the TUI show a
// step's results through String, so all three say the same words.
type Result struct {
	Phase   StepStatus // StatusRunning (the apply) or StatusVerifying
	Warning bool       // the step printed it as a warning ("warning: …")
	Text    string     // may hold several lines
}

// warningPrefix is how a step marks an info line as a warning (steps.Env.Info("warning: …")).
const warningPrefix = "warning: "

// String is the result as every view prints it: a warning marked ⚠, a verify's line after "verify:".
func (r Result) String() string {
	text := r.Text
	if r.Warning {
		text = "⚠ " + text
	}
	if r.Phase == StatusVerifying {
		text = "verify: " + text
	}
	return text
}

// IsWarning says whether an info line is a warning.
func IsWarning(text string) bool { return strings.HasPrefix(strings.ToLower(text), warningPrefix) }

// progressLine says whether an info line only says a wait goes on ("Still waiting for … [2m elapsed]"):
// the live views show it, a step's results leave it out.
func progressLine(text string) bool { return strings.HasPrefix(strings.ToLower(text), "still waiting") }

// ResultOf says whether a line a step emitted while in status is one of its results, and which:
// an info line said while applying or verifying, not one that only says a wait goes on.
func ResultOf(status StepStatus, l *Line) (Result, bool) {
	if l == nil || l.Stream != "info" || progressLine(l.Text) {
		return Result{}, false
	}
	if status != StatusRunning && status != StatusVerifying {
		return Result{}, false
	}
	return Result{Phase: status, Warning: IsWarning(l.Text), Text: strings.TrimRight(l.Text, "\n")}, true
}

// addResult folds a line into the step's results; the same text said again (a verify repeating
// the apply's finding) is kept once.
func (st *StepState) addResult(l *Line) {
	r, ok := ResultOf(st.Status, l)
	if !ok {
		return
	}
	for _, x := range st.Results {
		if x.Text == r.Text {
			return
		}
	}
	st.Results = append(st.Results, r)
}

// Warnings counts a step's warnings.
func (st *StepState) Warnings() int {
	n := 0
	for _, r := range st.Results {
		if r.Warning {
			n++
		}
	}
	return n
}
