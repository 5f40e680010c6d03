package runbooks

import (
	"fmt"
	"slices"
)

// Window marks a runbook's maintenance window: the steps from From to To, in the file's order and
// both included, run while the application is stopped. The steps before From prepare while it
// works (days ahead, if need be); the steps after To finish once it works again. Only the start of
// the window is an act: the From step should be confirmed in a way `--yes` does not answer
// (confirm: typed), so that no one starts the window by scripting the preparation.
//
// Ready names read-only steps before From that prove what the window depends on (a KMS key usable,
// the new instance still this run's). The runner runs them in their place, and checks them again
// right after From's confirmation and before From applies: preparation may be days old, and the
// confirmation may have waited for hours, so the window opens only on what holds now — else From
// fails blocked with their fix, and the application was never stopped.
type Window struct {
	From  string   `yaml:"from"`
	To    string   `yaml:"to"`
	Ready []string `yaml:"ready"`
}

// Phase is where a step runs relative to the runbook's window.
type Phase string

// Phases; PhaseNone for a runbook without a window and for cut-back steps.
const (
	PhaseNone   Phase = ""
	PhaseBefore Phase = "before"
	PhaseWindow Phase = "window"
	PhaseAfter  Phase = "after"
)

// Heading is the phase as the plan heads it.
func (p Phase) Heading() string {
	switch p {
	case PhaseBefore:
		return "Before the window — the application works"
	case PhaseWindow:
		return "The window — the application is stopped from here"
	case PhaseAfter:
		return "After the window — the application works again"
	}
	return ""
}

// PhaseOf is the phase of the main step id (PhaseNone without a window, or for a cut-back step).
func (rb *Runbook) PhaseOf(id string) Phase {
	if rb.Window == nil {
		return PhaseNone
	}
	at := func(want string) int {
		return slices.IndexFunc(rb.Steps, func(s *StepSpec) bool { return s.ID == want })
	}
	i, from, to := at(id), at(rb.Window.From), at(rb.Window.To)
	switch {
	case i < 0 || from < 0 || to < 0:
		return PhaseNone
	case i < from:
		return PhaseBefore
	case i <= to:
		return PhaseWindow
	}
	return PhaseAfter
}

// validateWindow checks window: both ends name main steps, the start no later than the end.
func (l *loader) validateWindow() {
	w := l.rb.Window
	if w == nil {
		return
	}
	index := map[string]int{}
	for i, s := range l.rb.Steps {
		index[s.ID] = i
	}
	end := func(key, id string) (int, bool) {
		pos := l.posOf("$.window." + key)
		if id == "" {
			l.add(l.posOf("$.window"), "give `"+key+": <step id>`", "window has no %s", key)
			return 0, false
		}
		i, ok := index[id]
		if !ok {
			fix := "name a step under `steps:`"
			if slices.ContainsFunc(l.rb.Cutback, func(s *StepSpec) bool { return s.ID == id }) {
				fix = "a cut-back step is not part of the window: name a step under `steps:`"
			}
			l.add(pos, fix, "window %s: no step %q", key, id)
			return 0, false
		}
		return i, true
	}
	from, okFrom := end("from", w.From)
	to, okTo := end("to", w.To)
	for i, id := range w.Ready {
		pos := l.posOf(fmt.Sprintf("$.window.ready[%d]", i))
		at, ok := index[id]
		switch {
		case !ok:
			l.add(pos, "name a step under `steps:` that comes before the window's start", "window ready: no step %q", id)
		case okFrom && at >= from:
			l.add(pos, fmt.Sprintf("name a step before %q: it is checked again before the window opens", w.From), "window ready: step %q is not before the window's start %q", id, w.From)
		}
	}
	if okFrom && okTo && from > to {
		l.add(l.posOf("$.window.to"), fmt.Sprintf("swap them, or name a step after %q", w.From), "window to: step %q comes before window from: step %q", w.To, w.From)
	}
}
