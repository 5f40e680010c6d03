package timeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Glyphs of the text chart. They read without colour (NO_COLOR, a report's code block).
const (
	GlyphWork     = '█'
	GlyphWait     = '▒'
	GlyphPrompt   = '?'
	GlyphRollback = '<'
	GlyphDead     = '×' // the runner died in the step: nothing ran until the resume
	GlyphBefore   = '░' // every span of the rehearsal's bar
	GlyphWindow   = '│'
)

// Style colours the parts of a chart; a nil func leaves the text as it is (the plain chart).
type Style struct {
	Label, Axis, Rehearsal, Window, Late func(string) string
	// Mark colours tonight's spans; failed is set on a failed step's bar.
	Mark func(m Mark, failed bool, s string) string
}

func apply(f func(string) string, s string) string {
	if f == nil || s == "" {
		return s
	}
	return f(s)
}

// Chart draws tonight's run (t) and, beside each bar, the rehearsal's (before, may be nil) on one
// axis — offsets from each run's start — with the window's end as a vertical line. It is exactly
// w columns wide and at most h lines high (h <= 0: no limit); when the bars do not fit, the rows
// around focus (a step id, "" = the last one started) are shown.
func Chart(t, before *Timeline, w, h int, focus string, st Style) []string {
	rows := rowsOf(t, before)
	if len(rows) == 0 {
		return []string{padTo("no steps on this path yet", w)}
	}
	labelW := 8
	for _, r := range rows {
		labelW = max(labelW, len([]rune(r.bar.Title)))
	}
	labelW = min(labelW, max(w/4, 12), 40)
	const infoW = 16
	barW := w - labelW - infoW - 3
	if barW < 10 {
		barW, labelW = max(w-infoW-3-8, 4), 8
	}
	span := t.End()
	if before != nil {
		span = max(span, before.End())
	}
	win, hasWin := t.Window()
	if hasWin {
		span = max(span, win)
	}
	span = max(span, 10*time.Second)
	span += span * 6 / time.Duration(barW) // room after the last bar for the window's label
	col := func(d time.Duration) int { return min(int(int64(d)*int64(barW)/int64(span)), barW-1) }
	winCol := -1
	if hasWin {
		winCol = col(win)
	}

	var out []string
	out = append(out, axis(span, barW, labelW, winCol, win, st))
	per := 1
	if before != nil {
		per = 2
	}
	body := len(rows) * per
	first, last := 0, len(rows)
	if h > 0 && body+2 > h {
		fit := max((h-3)/per, 1) // the axis, the legend and the line that says which steps show
		at := focusRow(rows, focus)
		first = min(max(at-fit/2, 0), len(rows)-fit)
		last = first + fit
	}
	for _, r := range rows[first:last] {
		out = append(out, r.tonight(labelW, barW, col, winCol, st))
		if before != nil {
			out = append(out, r.rehearsal(labelW, barW, col, winCol, st))
		}
	}
	if first > 0 || last < len(rows) {
		out = append(out, padTo(apply(st.Axis, fmt.Sprintf("%*s steps %d–%d of %d", labelW, "", first+1, last, len(rows))), w))
	}
	out = append(out, legend(t, before, w, st))
	for i := range out {
		out[i] = padTo(out[i], w)
	}
	return out
}

type row struct {
	bar, prev *Bar
}

// rowsOf lists the steps either run reached, in tonight's order (a step only the rehearsal ran is
// listed too: tonight has not reached it yet).
func rowsOf(t, before *Timeline) []row {
	var rows []row
	for _, b := range t.Bars {
		var p *Bar
		if before != nil {
			p = before.Bar(b.ID)
		}
		if b.Started() || (p != nil && p.Started()) || t.Live() {
			rows = append(rows, row{b, p})
		}
	}
	return rows
}

func focusRow(rows []row, focus string) int {
	at := 0
	for i, r := range rows {
		if r.bar.ID == focus {
			return i
		}
		if r.bar.Started() {
			at = i
		}
	}
	return at
}

func (r row) tonight(labelW, barW int, col func(time.Duration) int, winCol int, st Style) string {
	cells := make([]string, barW)
	for i := range cells {
		cells[i] = " "
	}
	failed := r.bar.Status == events.StatusFailed
	for _, s := range r.bar.Spans {
		g := map[Mark]rune{Work: GlyphWork, Wait: GlyphWait, Prompt: GlyphPrompt, Rollback: GlyphRollback, Dead: GlyphDead}[s.Mark]
		for c := col(s.From); c <= col(s.To); c++ { // at least one cell, however short
			cells[c] = string(g)
		}
	}
	label := ansi.Truncate(r.bar.Title, labelW, "…")
	info := ""
	if r.bar.Started() {
		info = short(r.bar.Took())
		if r.prev != nil && r.prev.Started() && !r.bar.Spans[len(r.bar.Spans)-1].Open {
			d := r.bar.Took() - r.prev.Took()
			sign := "+"
			switch {
			case d < 0:
				sign, d = "−", -d
			case d.Round(time.Second) == 0:
				sign = "±"
			}
			delta := sign + short(d)
			if sign == "+" && d >= time.Minute {
				delta = apply(st.Late, delta)
			}
			info += " " + delta
		}
	}
	return padTo(apply(st.Label, label), labelW) + " " + drawCells(cells, winCol, func(s string) string {
		if s == " " {
			return s
		}
		if st.Mark == nil {
			return s
		}
		return st.Mark(markOf(s), failed, s)
	}, st) + " " + info
}

func (r row) rehearsal(labelW, barW int, col func(time.Duration) int, winCol int, st Style) string {
	cells := make([]string, barW)
	for i := range cells {
		cells[i] = " "
	}
	info := ""
	if r.prev != nil && r.prev.Started() {
		for c := col(r.prev.From()); c <= col(r.prev.To()); c++ {
			cells[c] = string(GlyphBefore)
		}
		info = apply(st.Rehearsal, short(r.prev.Took()))
	}
	return strings.Repeat(" ", labelW) + " " + drawCells(cells, winCol, func(s string) string {
		if s == " " {
			return s
		}
		return apply(st.Rehearsal, s)
	}, st) + " " + info
}

func markOf(g string) Mark {
	switch []rune(g)[0] {
	case GlyphWait:
		return Wait
	case GlyphPrompt:
		return Prompt
	case GlyphRollback:
		return Rollback
	case GlyphDead:
		return Dead
	}
	return Work
}

// drawCells joins the cells, styling runs of one glyph together, with the window's line over
// empty cells.
func drawCells(cells []string, winCol int, paint func(string) string, st Style) string {
	var b strings.Builder
	for i := 0; i < len(cells); {
		if i == winCol && cells[i] == " " {
			b.WriteString(apply(st.Window, string(GlyphWindow)))
			i++
			continue
		}
		j := i + 1
		for j < len(cells) && cells[j] == cells[i] && j != winCol {
			j++
		}
		b.WriteString(paint(strings.Repeat(cells[i], j-i)))
		i = j
	}
	return b.String()
}

// axis is the scale line: offsets from the start at round steps, and the window's end.
func axis(span time.Duration, barW, labelW, winCol int, win time.Duration, st Style) string {
	step := time.Minute
	for _, s := range []time.Duration{time.Second, 5 * time.Second, 10 * time.Second, 30 * time.Second, time.Minute, 2 * time.Minute, 5 * time.Minute, 10 * time.Minute, 15 * time.Minute, 30 * time.Minute, time.Hour, 2 * time.Hour, 6 * time.Hour} {
		step = s
		if int64(span/s)*8 <= int64(barW) {
			break
		}
	}
	line := []rune(strings.Repeat(" ", barW))
	put := func(at int, s string) {
		for i, r := range []rune(s) {
			if at+i < len(line) {
				line[at+i] = r
			}
		}
	}
	for d := time.Duration(0); d <= span; d += step {
		c := int(int64(d) * int64(barW) / int64(span))
		label := tick(d)
		if c+len(label) <= barW && (winCol < 0 || c > winCol || c+len(label)+1 < winCol) {
			put(c, label)
		}
	}
	text := string(line)
	if winCol >= 0 {
		w := []rune(text)
		wl := string(GlyphWindow) + tick(win.Round(time.Second))
		at := min(winCol, barW-len([]rune(wl)))
		copy(w[at:], []rune(wl))
		text = apply(st.Axis, string(w[:at])) + apply(st.Window, wl) + apply(st.Axis, string(w[at+len([]rune(wl)):]))
		return strings.Repeat(" ", labelW) + " " + text
	}
	return strings.Repeat(" ", labelW) + " " + apply(st.Axis, text)
}

func paintMark(st Style, m Mark, s string) string {
	if st.Mark == nil {
		return s
	}
	return st.Mark(m, false, s)
}

// hasDead says whether a runner died in any step.
func (t *Timeline) hasDead() bool {
	for _, b := range t.Bars {
		for _, s := range b.Spans {
			if s.Mark == Dead {
				return true
			}
		}
	}
	return false
}

func legend(t, before *Timeline, w int, st Style) string {
	parts := []string{apply(st.Label, string(GlyphWork)+" tonight")}
	if t.Rehearsal {
		parts[0] = apply(st.Label, string(GlyphWork)+" this rehearsal")
	}
	if before != nil {
		parts = append(parts, apply(st.Rehearsal, string(GlyphBefore)+" rehearsal "+before.RunID))
	} else {
		parts = append(parts, "no earlier rehearsal")
	}
	if t.hasDead() { // before the others: a narrow legend keeps it
		parts = append(parts, paintMark(st, Dead, string(GlyphDead))+" runner dead")
	}
	parts = append(parts, string(GlyphWait)+" waiting on a condition", string(GlyphPrompt)+" waiting for you")
	if _, ok := t.Window(); ok {
		parts = append(parts, apply(st.Window, string(GlyphWindow)+" window ends "+t.WindowEnd.Local().Format("15:04")))
	}
	out := ""
	for _, p := range parts {
		sep := ""
		if out != "" {
			sep = "  "
		}
		if ansi.StringWidth(out+sep+p) > w {
			break
		}
		out += sep + p
	}
	return out
}

// tick labels the axis: 0, 30s, 5m, 45m, 1h, 1h30 (and a window's end to the second: 44m30).
func tick(d time.Duration) string {
	switch {
	case d == 0:
		return "0"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour && d%time.Minute != 0:
		return fmt.Sprintf("%dm%02d", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dh%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// short writes a duration in at most five columns: 45s, 3m05, 12m, 1h05.
func short(d time.Duration) string {
	d = d.Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < 10*time.Minute:
		return fmt.Sprintf("%dm%02d", int(d/time.Minute), int(d%time.Minute/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	default:
		return fmt.Sprintf("%dh%02d", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
}

// padTo pads (or cuts) a possibly styled line to exactly w columns.
func padTo(s string, w int) string {
	n := ansi.StringWidth(s)
	if n > w {
		return ansi.Truncate(s, w, "")
	}
	return s + strings.Repeat(" ", w-n)
}
