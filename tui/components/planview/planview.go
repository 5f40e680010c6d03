// Package planview draws a plan — every step with its exact actions, destructive ones marked — for
// the screen and as Markdown to save.
package planview

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// Plan is what both renderings read.
type Plan struct {
	Runbook, Title, Target string
	Params                 map[string]string // secret ones already as ••••
	Steps                  []events.StepInfo
	Timings                map[string]time.Duration
	// ShowOffPath lists the steps not on this path one by one (else they fold into one line).
	ShowOffPath bool
}

// NotOnPath is the words for a step whose when: is false — the same as `cairn plan`'s.
const NotOnPath = "not on this path"

// offPath counts the runbook's (not cut-back) steps not on this path.
func (p Plan) offPath() int {
	n := 0
	for _, s := range p.Steps {
		if s.OffPath != "" && !s.Cutback {
			n++
		}
	}
	return n
}

// Total is the sum of the known timings, and how many steps have none.
func (p Plan) Total() (time.Duration, int) {
	var d time.Duration
	missing := 0
	for _, s := range p.Steps {
		if t, ok := p.Timings[s.ID]; ok {
			d += t
		} else {
			missing++
		}
	}
	return d, missing
}

// Summary is the plan's headline: it never claims more than it knows.
func (p Plan) Summary() string {
	destr := 0
	for _, s := range p.Steps {
		if s.Destructive && s.OffPath == "" {
			destr++
		}
	}
	off := p.offPath()
	out := common.Plural(len(p.Steps)-off, "step") + fmt.Sprintf(", %d destructive", destr)
	if off > 0 {
		out += fmt.Sprintf(", %d %s", off, NotOnPath)
	}
	switch d, missing := p.Total(); {
	case len(p.Timings) == 0:
		out += " · no rehearsal timings yet"
	case missing > 0:
		out += fmt.Sprintf(" · about %s from rehearsals (%s untimed)", common.FormatDuration(d), common.Plural(missing, "step"))
	default:
		out += " · about " + common.FormatDuration(d) + " from rehearsals"
	}
	return out
}

// View renders the plan for the screen, width wide (for a viewport).
func View(c *common.Common, p Plan, width int) string {
	s := c.Styles
	var b strings.Builder
	wrap := lipgloss.NewStyle().Width(max(width-6, 10)).PaddingLeft(5)
	if len(p.Params) > 0 {
		b.WriteString(s.Subtle.Render("parameters") + "\n")
		for _, k := range sortedKeys(p.Params) {
			b.WriteString("  " + k + " = " + s.Bold.Render(p.Params[k]) + "\n")
		}
		b.WriteString("\n")
	}
	folded := 0
	phase := runbooks.PhaseNone
	for i, st := range p.Steps {
		if ph := runbooks.Phase(st.Phase); ph != phase && !st.Cutback {
			// the runbook's window: the same headings as `cairn plan`
			b.WriteString(s.Bold.Render("── "+ph.Heading()+" ──") + "\n\n")
			phase = ph
		}
		if st.OffPath != "" && !p.ShowOffPath {
			folded++
			continue
		}
		head := fmt.Sprintf("%2d. %s", i+1, st.Title)
		var tags []string
		if st.OffPath != "" {
			b.WriteString(s.Subtle.Render(head+"  "+NotOnPath) + "\n")
			b.WriteString(s.Subtle.Render(wrap.Render(st.ID+" · "+st.OffPath)) + "\n\n")
			continue
		}
		if st.Destructive {
			tags = append(tags, s.Destroy.Render("⚠ destructive"))
		}
		if st.Confirm == "typed" {
			tags = append(tags, s.Subtle.Render("typed confirmation"))
		} else if st.Confirm == "yes" {
			tags = append(tags, s.Subtle.Render("asks first"))
		}
		if st.Approvals > 1 {
			tags = append(tags, s.Subtle.Render(fmt.Sprintf("%d approvals", st.Approvals)))
		}
		if t, ok := p.Timings[st.ID]; ok {
			tags = append(tags, s.Subtle.Render("~"+common.FormatDuration(t)))
		}
		b.WriteString(s.Bold.Render(head))
		if len(tags) > 0 {
			b.WriteString("  " + strings.Join(tags, s.Subtle.Render(" · ")))
		}
		b.WriteString("\n")
		b.WriteString(s.Subtle.Render(wrap.Render(st.ID+" · "+st.Kind)) + "\n")
		for _, a := range st.Actions {
			// an action may open with "[kind → target]" (where it runs) or a "#" comment line
			head, body, _ := strings.Cut(a, "\n")
			if strings.HasPrefix(head, "[") || strings.HasPrefix(head, "#") {
				b.WriteString(s.Subtle.Render(wrap.Render(head)) + "\n")
				if body == "" {
					continue
				}
				a = body
			}
			b.WriteString(wrap.Render(indent(a, "  ")) + "\n")
		}
		b.WriteString("\n")
	}
	if folded > 0 {
		b.WriteString(s.Subtle.Render(fmt.Sprintf("⋯ %s %s (their when: is false) · o lists them", common.Plural(folded, "step"), NotOnPath)) + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// Markdown renders the plan to save and share.
func Markdown(p Plan, generated time.Time) string {
	var b strings.Builder
	title := p.Title
	if title == "" {
		title = p.Runbook
	}
	fmt.Fprintf(&b, "# Plan: %s\n\n", title)
	fmt.Fprintf(&b, "- runbook: `%s`\n", p.Runbook)
	if p.Target != "" {
		fmt.Fprintf(&b, "- target: **%s**\n", p.Target)
	}
	fmt.Fprintf(&b, "- generated: %s\n", generated.Format(time.RFC3339))
	fmt.Fprintf(&b, "- %s\n\n", p.Summary())
	if len(p.Params) > 0 {
		b.WriteString("## Parameters\n\n| name | value |\n|---|---|\n")
		for _, k := range sortedKeys(p.Params) {
			fmt.Fprintf(&b, "| %s | `%s` |\n", k, p.Params[k])
		}
		b.WriteString("\n")
	}
	b.WriteString("## Steps\n")
	for i, st := range p.Steps {
		fmt.Fprintf(&b, "\n### %d. %s", i+1, st.Title)
		if st.OffPath != "" {
			fmt.Fprintf(&b, " — %s\n\n`%s` · %s\n", NotOnPath, st.ID, st.OffPath)
			continue
		}
		if st.Destructive {
			b.WriteString(" ⚠ destructive")
		}
		fmt.Fprintf(&b, "\n\n`%s` · %s", st.ID, st.Kind)
		if st.Confirm != "" && st.Confirm != "none" {
			fmt.Fprintf(&b, " · confirm: %s", st.Confirm)
		}
		if t, ok := p.Timings[st.ID]; ok {
			fmt.Fprintf(&b, " · about %s in rehearsal", common.FormatDuration(t))
		}
		b.WriteString("\n")
		if st.Notes != "" {
			b.WriteString("\n" + strings.TrimSpace(st.Notes) + "\n")
		}
		if len(st.Actions) > 0 {
			b.WriteString("\n```\n" + strings.Join(st.Actions, "\n") + "\n```\n")
		}
	}
	return b.String()
}

func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func indent(s, pad string) string {
	return pad + strings.ReplaceAll(s, "\n", "\n"+pad)
}
