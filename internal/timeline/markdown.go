package timeline

import (
	"strings"
)

// ChartWidth is the plain chart's width in a report: wide enough for whole titles, narrow enough
// for a change ticket's code block.
const ChartWidth = 110

// Markdown is the report's Timeline section: a sentence saying what is compared (why says how the
// rehearsal was chosen, or that there is none), the Mermaid gantt block, and the same chart as
// plain text for viewers that do not render Mermaid.
func Markdown(t, before *Timeline, why string) string {
	var b strings.Builder
	b.WriteString("## Timeline\n\n")
	if why != "" {
		b.WriteString(why + "\n\n")
	}
	b.WriteString("```mermaid\n" + Mermaid(t, before) + "```\n\n")
	b.WriteString("```text\n")
	for _, l := range Chart(t, before, ChartWidth, 0, "", Style{}) {
		b.WriteString(strings.TrimRight(l, " ") + "\n")
	}
	b.WriteString("```\n")
	return b.String()
}
