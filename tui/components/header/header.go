// Package header draws the top bar (runbook, target, clocks) and the footer (key help) every page
// shares.
package header

import (
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/keymap"
)

// Info is what the header shows.
type Info struct {
	Page      string // "runbooks", "parameters", "plan", "run"
	Runbook   string
	Target    string
	Rehearsal bool
	ReadOnly  bool
	Started   time.Time // zero before the run
	Finished  time.Time // zero while running
	WindowEnd time.Time // zero: no window
	ETA       time.Time // zero: unknown
	ETAKnown  bool
	ETALabel  string // "ETA" unless said otherwise ("ETA if started now")
	Hint      string // shown on the second line when there are no clocks
}

// IsTwin reports whether a target is the rehearsal twin rather than a real account. Display only.
func IsTwin(target string) bool { return strings.Contains(strings.ToLower(target), "twin") }

// Target draws the target so it cannot be mistaken: the twin calmly, a real account in reverse amber.
func Target(c *common.Common, target string) string {
	switch {
	case target == "":
		return ""
	case IsTwin(target):
		return c.Styles.TargetTwin.Render("◇ TWIN · " + target)
	default:
		return c.Styles.TargetLive.Render("● LIVE · " + target)
	}
}

// View draws the header: two lines and a rule, width wide.
func View(c *common.Common, in Info, width int) string {
	s := c.Styles
	left := s.Title.Render("cairn")
	if in.Runbook != "" {
		left += s.Subtle.Render(" · ") + s.Title.Render(in.Runbook)
	} else if in.Page != "" {
		left += s.Subtle.Render(" · " + in.Page)
	}
	if in.Rehearsal {
		left += s.Subtle.Render(" (rehearsal)")
	}
	right := Target(c, in.Target)
	if in.ReadOnly {
		right = s.ReadOnly.Render("following read-only") + "  " + right
	}
	line1 := spread(left, right, width)

	var parts []string
	now := c.Now()
	if !in.Started.IsZero() {
		end := now
		if !in.Finished.IsZero() {
			end = in.Finished
		}
		parts = append(parts, "elapsed "+common.FormatDuration(end.Sub(in.Started)))
	}
	late := false
	if !in.WindowEnd.IsZero() {
		w := "window ends " + in.WindowEnd.Local().Format("15:04")
		if left := in.WindowEnd.Sub(now); left > 0 {
			w += " (in " + common.FormatDuration(left) + ")"
		} else {
			w += " (" + common.FormatDuration(-left) + " ago)"
			late = in.Finished.IsZero() && !in.Started.IsZero()
		}
		parts = append(parts, w)
	}
	eta := ""
	if in.Finished.IsZero() {
		switch {
		case in.ETAKnown:
			label := in.ETALabel
			if label == "" {
				label = "ETA"
			}
			eta = label + " " + in.ETA.Local().Format("15:04")
			if !in.WindowEnd.IsZero() && in.ETA.After(in.WindowEnd) {
				eta += ": " + common.FormatDuration(in.ETA.Sub(in.WindowEnd)) + " late"
				late = true
			}
		case !in.Started.IsZero() || !in.WindowEnd.IsZero():
			eta = "ETA unknown (no rehearsal timings)"
		}
	}
	if len(parts) == 0 && eta == "" && in.Hint != "" {
		parts = append(parts, in.Hint)
	}
	line2 := s.Subtle.Render(strings.Join(parts, " · "))
	if eta != "" {
		sep := ""
		if len(parts) > 0 {
			sep = s.Subtle.Render(" · ")
		}
		if late {
			line2 += sep + s.Warning.Render("⚠ "+eta)
		} else {
			line2 += sep + s.Subtle.Render(eta)
		}
	}
	rule := s.Rule.Render(strings.Repeat("─", max(width, 0)))
	return s.Header.Width(width).Render(ansi.Truncate(line1, width-2, "…")+"\n"+ansi.Truncate(line2, width-2, "…")) + "\n" + rule
}

// Height is the header's height.
const Height = 3

func spread(left, right string, width int) string {
	gap := width - 2 - lipgloss.Width(left) - lipgloss.Width(right)
	if gap < 1 {
		return left + " " + right
	}
	return left + strings.Repeat(" ", gap) + right
}

// Footer draws the key help (short, or all keys with ?), with an optional status message above it.
func Footer(c *common.Common, h *help.Model, keys keymap.Help, width int) string {
	h.SetWidth(width - 2)
	if !h.ShowAll {
		return c.Styles.Footer.Render(shortHelp(h, keys.Short, width-2))
	}
	lines := strings.Split(h.View(keys), "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width-2, "…")
	}
	return c.Styles.Footer.Render(strings.Join(lines, "\n"))
}

// shortHelp is the one-line help in w columns. help cuts it with "…" itself, but keeps adding keys
// once its "…" no longer fits (bubbles v2.2.1) and the line spilled over an 80-column terminal's
// edge. Then the keys of the middle give way to a "…": the page's own first keys and the last two
// (quit and all keys, which every page puts last) stay.
func shortHelp(h *help.Model, keys []key.Binding, w int) string {
	v := h.ShortHelpView(keys)
	if lipgloss.Width(v) <= w || len(keys) < 3 {
		return ansi.Truncate(v, w, "…")
	}
	more := " " + h.Styles.Ellipsis.Render(h.Ellipsis) + " "
	tail := h.ShortHelpView(keys[len(keys)-2:])
	for n := len(keys) - 3; n > 0; n-- {
		if v := h.ShortHelpView(keys[:n]) + more + tail; lipgloss.Width(v) <= w {
			return v
		}
	}
	return ansi.Truncate(v, w, "…")
}

// NewHelp returns the help model styled for the background.
func NewHelp(c *common.Common) help.Model {
	h := help.New()
	h.Styles = help.DefaultStyles(c.Styles.IsDark)
	return h
}
