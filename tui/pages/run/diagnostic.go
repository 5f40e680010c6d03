package run

// A step's failure, drawn through the one diagnostic formatter (internal/diag).

import (
	cdiag "github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// failure draws a step's error in the failure box; while a decision about it is open (its prompt
// already says what failed) only why, the state things are in and the next step, unboxed.
func failure(c *common.Common, d *events.Diag, decisionOpen bool, w int) []string {
	if !decisionOpen {
		return []string{diag(c, d, w)}
	}
	s := c.Styles
	var out []string
	if d.Detail != "" {
		out = append(out, wrapText(d.Detail, w))
	}
	if d.State != "" {
		out = append(out, s.Subtle.Render(wrapText("state: "+d.State, w)))
	}
	if d.Next != "" {
		out = append(out, s.Subtle.Render(wrapText("next: "+d.Next, w)))
	}
	return out
}

func diag(c *common.Common, d *events.Diag, w int) string {
	s := c.Styles
	inner := w - 4
	wrap := func(x string) string { return wrapText(x, inner) }
	return s.FailBox.Width(w).Render(cdiag.Styled(*d, cdiag.Style{
		Summary: func(x string) string { return s.Failure.Render(wrap(x)) },
		Detail:  wrap,
		State:   func(x string) string { return s.Subtle.Render(wrap(x)) },
		Next:    wrap,
	}))
}
