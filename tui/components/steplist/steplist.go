// Package steplist draws the run's steps, one a line: a status mark, the title and the step's
// duration. The current step is in the accent colour, a failed one in red; the list scrolls to keep
// the current step in view.
package steplist

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// Mark is the glyph for a status. They are static: nothing in the list moves.
func Mark(s events.StepStatus) string {
	switch s {
	case events.StatusChecking:
		return "◌"
	case events.StatusRunning, events.StatusVerifying:
		return "▶"
	case events.StatusWaiting:
		return "?"
	case events.StatusDone:
		return "✓"
	case events.StatusSkipped:
		return "–"
	case events.StatusFailed:
		return "✗"
	case events.StatusRollingBack:
		return "↺"
	case events.StatusRolledBack:
		return "↩"
	case events.StatusInterrupted:
		return "!"
	default:
		return "○"
	}
}

// Active reports whether a step is being worked on right now (events.StepStatus.Active).
func Active(s events.StepStatus) bool { return s.Active() }

// Duration is what the list shows for a step: time so far while it is active (from its first check,
// an earlier runner's included), its apply+verify time once done, nothing before it starts. A step
// a runner died in shows, once done, the time from its first start to its end, as the report and
// the plain view say it: the later runner's own count leaves the dead runner's part out; a step a
// runner was stopped in (interrupted) counts the stopped runner's time in it too.
func Duration(c *common.Common, rs *events.RunState, st *events.StepState) string {
	first, ok := st.FromFirstStart()
	switch {
	case Active(st.Status) && !st.Started.IsZero():
		return common.FormatDuration(c.Now().Sub(st.Started))
	case ok && rs.DiedIn(st.Info.ID):
		return common.FormatDuration(first)
	case st.Elapsed+st.Stopped > 0:
		return common.FormatDuration(st.Elapsed + st.Stopped) // a stopped runner's part included
	}
	return ""
}

// offPath reports whether a step is folded: not on this path (its when: is false) and not run.
func offPath(st *events.StepState) bool {
	return st.Info.OffPath != "" && (st.Status == events.StatusPending || st.Status == events.StatusSkipped)
}

// Folded counts the steps not on this path that the list folds into one line.
func Folded(rs *events.RunState) int {
	n := 0
	for _, st := range rs.Steps {
		if offPath(st) {
			n++
		}
	}
	return n
}

// View draws the list in width×height, the step at index cur (the one the page shows) in the
// accent colour and in view. Steps not on this path fold into one line at the end unless expand.
func View(c *common.Common, rs *events.RunState, width, height int, expand bool, cur int) string {
	s := c.Styles
	if width < 10 || height < 1 {
		return ""
	}
	// rows: step indexes, -1 for the folded line
	var rows []int
	folded := 0
	curRow := -1
	for i, st := range rs.Steps {
		if !expand && offPath(st) && i != cur {
			folded++
			continue
		}
		if i == cur {
			curRow = len(rows)
		}
		rows = append(rows, i)
	}
	if folded > 0 {
		rows = append(rows, -1)
	}
	first := 0
	if n := len(rows); n > height && curRow >= 0 {
		first = min(max(0, curRow-height/2), n-height)
	}
	showStatus := width >= 44
	var b strings.Builder
	for r := first; r < len(rows) && r < first+height; r++ {
		if r > first {
			b.WriteByte('\n')
		}
		i := rows[r]
		if i < 0 {
			text := common.Plural(folded, "step") + " not on this path · o lists them"
			if lipgloss.Width(text) > width {
				text = common.Plural(folded, "step") + " not on this path"
			}
			if lipgloss.Width(text) > width {
				text = fmt.Sprintf("%d not on this path · o", folded)
			}
			b.WriteString(s.Subtle.Render(ansi.Truncate(text, width, "…")))
			continue
		}
		st := rs.Steps[i]
		dur := Duration(c, rs, st)
		right := dur
		if showStatus && st.Status != events.StatusPending {
			right = string(st.Status)
			if dur != "" {
				right += " " + dur
			}
		}
		mark := Mark(st.Status)
		if st.Info.OffPath != "" && st.Status == events.StatusPending {
			right = "not on this path"
		}
		if st.Info.Cutback && st.Status == events.StatusPending {
			// a cut-back step runs only if the engineer chooses cut back after a failure
			mark, right = "↺", "if cut back"
		}
		title := st.Info.Title
		if title == "" {
			title = st.Info.ID
		}
		if st.Item != "" && Active(st.Status) {
			title += " [" + st.Item + "]"
		}
		room := width - 2 - lipgloss.Width(right) - 1
		title = ansi.Truncate(title, max(room, 1), "…")
		gap := max(1, width-2-lipgloss.Width(title)-lipgloss.Width(right))
		line := mark + " " + title + strings.Repeat(" ", gap) + right
		switch {
		case st.Status == events.StatusFailed:
			line = s.Failure.Render(line)
		case i == cur:
			line = s.Current.Render(line)
		case st.Status == events.StatusPending || st.Status == events.StatusSkipped:
			line = s.Subtle.Render(line)
		}
		b.WriteString(line)
	}
	return lipgloss.NewStyle().Width(width).Height(height).MaxHeight(height).Render(b.String())
}
