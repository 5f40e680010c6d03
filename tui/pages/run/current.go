package run

// The current step: its title and status, what it is doing, its check, why it was skipped, its failure.

import (
	"fmt"
	"strings"

	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	cdiag "github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/components/steplist"
)

// current draws the step being worked on (or last worked on), one part a string.
func (m *Model) current(cur *events.StepState, w int) []string {
	s := m.c.Styles
	var out []string
	add := func(x string) {
		if x != "" {
			out = append(out, x)
		}
	}
	n, total := pathPosition(m.rs.Steps, cur)
	title := fmt.Sprintf("%d/%d  %s", n, total, cur.Info.Title)
	st := s.Current
	if cur.Status == events.StatusFailed {
		st = s.Failure
	}
	line := st.Render(ansi.Truncate(title, w-lipgloss.Width(string(cur.Status))-2, "…")) + "  " + s.Subtle.Render(string(cur.Status))
	if cur.Info.Destructive {
		line += "  " + s.Destroy.Render("⚠ destructive")
	}
	add(line)
	add(m.activity(cur, w))
	if c := cur.Check; c != nil {
		head := "check: " + c.State
		if c.Change != "" {
			head += " · " + c.Change
		}
		if c.Reason != "" {
			head += " — "
		}
		for _, l := range cdiag.Headed(head, c.Diagnostic("")) { // the one formatter, as the plain view
			add(s.Subtle.Render(wrapText(strings.TrimLeft(l, " "), w)))
		}
	}
	if cur.Note != "" && cur.Status == events.StatusSkipped {
		add(s.Subtle.Render(wrapText("skipped: "+cur.Note, w)))
	}
	if d := cur.Error; d != nil {
		out = append(out, failure(m.c, d, m.rs.Open != nil, w)...)
	}
	return out
}

// pathPosition is where a step stands among the steps of the run's path, and how many those are:
// the steps its parameters put on the path and, of the runbook's cut-back steps, those that ran —
// not the other strategies' steps nor a cut-back nobody chose. The step shown always counts.
func pathPosition(steps []*events.StepState, cur *events.StepState) (n, total int) {
	for _, s := range steps {
		if s != cur && (s.Info.OffPath != "" || s.Info.Cutback && s.Status == events.StatusPending) {
			continue
		}
		total++
		if s == cur {
			n = total
		}
	}
	return n, total
}

func (m *Model) activity(cur *events.StepState, w int) string {
	s := m.c.Styles
	if !steplist.Active(cur.Status) || cur.Status == events.StatusWaiting {
		return ""
	}
	if p := cur.Progress; p != nil && p.Total > 0 {
		frac := min(max(p.Done/p.Total, 0), 1)
		m.bar.SetWidth(min(30, max(w-24, 10)))
		label := fmt.Sprintf(" %3.0f%%", frac*100)
		if p.Unit != "%" {
			label += fmt.Sprintf("  %s/%s %s", num(p.Done), num(p.Total), p.Unit)
		}
		return m.bar.ViewAs(frac) + s.Subtle.Render(strings.TrimRight(label, " "))
	}
	glyph := "…"
	if !m.c.Static {
		glyph = m.spin.View()
	}
	d := steplist.Duration(m.c, m.rs, cur)
	word := map[events.StepStatus]string{
		events.StatusChecking: "checking", events.StatusRunning: "applying", events.StatusVerifying: "verifying",
		events.StatusRollingBack: "rolling back",
	}[cur.Status]
	return s.Current.Render(glyph) + " " + s.Subtle.Render(word+" · "+d)
}

func num(f float64) string {
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d", int64(f))
	}
	return fmt.Sprintf("%.1f", f)
}
