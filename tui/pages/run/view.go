package run

// Drawing the page: the step list and the current step, or the timeline.

import (
	"strings"

	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/components/steplist"
)

// View draws the page body in w×h.
func (m *Model) View(w, h int) string {
	s := m.c.Styles
	if m.showTL {
		return m.timelineView(w, h)
	}
	// the list widens with the terminal: whole titles on a wide one, the output keeps the rest
	leftW := min(max(w*3/10, 24), 48)
	if w >= 120 {
		leftW = min(w*2/5, 72)
	}
	rightW := w - leftW - 4
	left := steplist.View(m.c, m.rs, leftW, h, m.showOff, m.focusIndex())
	sep := s.Rule.Render(strings.TrimRight(strings.Repeat("│\n", h), "\n"))
	right := m.right(rightW, h)
	return lipgloss.JoinHorizontal(lipgloss.Top, " ", left, " ", sep, " ", right)
}

// right is the current step over its notes and output, with whatever stands above and below it.
func (m *Model) right(w, h int) string {
	s := m.c.Styles
	cur := m.focus()
	top := m.above(w)
	switch {
	case cur != nil:
		top = append(top, m.current(cur, w)...)
	case m.rs.Status == "":
		top = append(top, s.Subtle.Render("waiting for the run's first record…"))
	}
	top = append(top, m.below(w)...)
	fixed := strings.Join(top, "\n")
	used := 0
	if fixed != "" {
		used = lipgloss.Height(fixed)
	}
	avail := h - used
	var notes []string
	if cur != nil && cur.Info.Notes != "" {
		notes = strings.Split(m.notes.render(cur.Info.ID, cur.Info.Notes, w), "\n")
	}
	minLog := min(6, max(avail, 0))
	nn := min(len(notes), max(0, avail-minLog-1))
	if nn > 0 && nn < len(notes) {
		notes = append(notes[:nn-1], s.Subtle.Render("… (notes go on; they are in the plan)"))
	}
	parts := []string{}
	if fixed != "" {
		parts = append(parts, fixed)
	}
	if nn > 0 {
		parts = append(parts, strings.Join(notes[:nn], "\n"))
		avail -= nn
	}
	if avail >= 2 {
		m.out.pane.SetSize(w, avail)
		parts = append(parts, m.out.pane.View())
	}
	return lipgloss.NewStyle().Width(w).MaxWidth(w).Height(h).MaxHeight(h).Render(strings.Join(parts, "\n"))
}

// above is what stands over the page's body: how the run ended, the leave question.
func (m *Model) above(w int) []string {
	s := m.c.Styles
	var out []string
	if b := m.banner(w); b != "" {
		out = append(out, b)
	}
	if m.quitting {
		q := "Leave cairn? " + m.LeaveMessage() + "."
		out = append(out, s.PromptBox.Width(w).Render(s.Bold.Render(lipgloss.NewStyle().Width(w-4).Render(q))+"\n"+s.Current.Render("y")+" leave   "+s.Current.Render("n")+" stay"))
	}
	return out
}

// below is what follows the current step: the open question, the note being typed, a status line.
func (m *Model) below(w int) []string {
	s := m.c.Styles
	var out []string
	if m.prompt != nil {
		out = append(out, m.prompt.View(w))
		if m.sent != "" {
			out = append(out, s.Subtle.Render("answer sent; waiting for the runner…"))
		}
	}
	if m.noteBox.open {
		out = append(out, m.noteBox.view(w))
	}
	if m.status != "" {
		out = append(out, s.Subtle.Render(wrapText(m.status, w)))
	}
	return out
}

// timelineView is the body with the timeline open: the chart over the whole width, the open
// question and any message under it.
func (m *Model) timelineView(w, h int) string {
	inner := w - 2
	above, below := m.above(inner), m.below(inner)
	used := 0
	for _, x := range append(append([]string{}, above...), below...) {
		used += lipgloss.Height(x)
	}
	focus := ""
	if cur := m.focus(); cur != nil {
		focus = cur.Info.ID
	}
	parts := append(above, m.timeline.View(inner, max(h-used, 3), focus))
	parts = append(parts, below...)
	body := lipgloss.NewStyle().PaddingLeft(1).Render(strings.Join(parts, "\n"))
	return lipgloss.NewStyle().Width(w).MaxWidth(w).Height(h).MaxHeight(h).Render(body)
}

func (m *Model) banner(w int) string {
	s := m.c.Styles
	id := m.runID()
	switch m.rs.Status {
	case "":
		if m.closed {
			return s.Warning.Render(wrapText("The run's record stream ended before the run did; the run may still be going: cairn attach "+id, w))
		}
		return ""
	case events.Succeeded:
		if m.rs.FinishNote != "" {
			return s.Warning.Render(wrapText("✓ run succeeded — "+m.rs.FinishNote, w)) + s.Subtle.Render(" · "+id+" · q to leave") + m.downtime(w)
		}
		return s.Success.Render("✓ run succeeded") + s.Subtle.Render(" · "+id+" · q to leave") + m.downtime(w)
	case events.RolledBack:
		return s.Bold.Render("↩ run rolled back") + s.Subtle.Render(" · "+id+" · q to leave")
	case events.Interrupted:
		return s.Warning.Render(wrapText("! run interrupted — "+m.rs.FinishNote, w)) + s.Subtle.Render(" · cairn resume "+id+" to continue · q to leave")
	default:
		return s.Failure.Render("✗ run "+string(m.rs.Status)) + s.Subtle.Render(" · cairn resume "+id+" to continue · q to leave")
	}
}

// downtime is the line under an ended run's banner with the downtime a step measured (as the
// report's header says it), "" when none did.
func (m *Model) downtime(w int) string {
	for _, st := range m.rs.Steps {
		if d := st.Outputs["downtime"]; d != "" {
			return "\n" + m.c.Styles.Bold.Render(wrapText("downtime "+d+" (step "+st.Info.ID+")", w))
		}
	}
	return ""
}

func wrapText(x string, w int) string { return lipgloss.NewStyle().Width(max(w, 10)).Render(x) }
