package timeline

import (
	"fmt"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Mermaid writes the run as a Mermaid gantt chart (the body of a ```mermaid block, which GitHub
// and GitLab render): a section with tonight's bars — done (verified), active (in flight), crit
// (failed; interrupted, so labelled), untagged (rolled back or never finished, so labelled) — and a
// row per wait for a person; a section with the rehearsal's bars (before, may be nil),
// moved to start when tonight started so both share tonight's clock; the window's end as a
// milestone. Times are Unix seconds (dateFormat X); names lose the characters gantt syntax
// reserves (: ; #).
func Mermaid(t, before *Timeline) string {
	var b strings.Builder
	title := "cairn run " + t.RunID + " — " + t.Runbook
	if before != nil {
		title += " beside rehearsal " + before.RunID
	}
	fmt.Fprintf(&b, "gantt\n    title %s\n    dateFormat X\n    axisFormat %%H:%%M\n    todayMarker off\n", name(title))
	at := func(d time.Duration) int64 { return t.Start.Add(d).Unix() }
	task := func(label, tags string, n int, from, to time.Duration) {
		if tags != "" {
			tags += ", "
		}
		fmt.Fprintf(&b, "    %s :%ss%d, %d, %d\n", name(label), tags, n, at(from), max(at(to), at(from)+1))
	}
	section := "tonight"
	if t.Rehearsal {
		section = "this rehearsal"
	}
	fmt.Fprintf(&b, "    section %s\n", section)
	n := 0
	rows := rowsOf(t, before)
	for _, r := range rows {
		if !r.bar.Started() {
			continue
		}
		label := r.bar.Title
		if r.bar.wait {
			label += " (waiting on a condition)"
		}
		// a runner that died in the step splits its bar: the work before, the dead time (crit), the
		// work after the resume — the dead time is never drawn as work; a runner stopped in the
		// step (interrupted) ends a stretch of its own, drawn as interrupted, never as done
		parts := segments(r.bar)
		for i, p := range parts {
			n++
			last := i == len(parts)-1
			if i > 0 && p.Mark != Dead {
				label = r.bar.Title + " · after the resume"
			}
			switch {
			case p.Mark == Dead:
				task(r.bar.Title+" · runner dead, nothing ran until the resume", "crit", n, p.From, p.To)
			case last:
				tags, suffix := finalTags(r.bar)
				task(label+suffix, tags, n, p.From, p.To)
			case r.bar.stoppedAt(p.To):
				task(label+" (interrupted)", "crit", n, p.From, p.To)
			default:
				task(label, "done", n, p.From, p.To)
			}
		}
		for _, s := range r.bar.Spans {
			if s.Mark == Prompt && s.To > s.From {
				n++
				task(r.bar.Title+" · waiting for you", "active", n, s.From, s.To)
			}
		}
	}
	if before != nil {
		fmt.Fprintf(&b, "    section rehearsal %s\n", name(before.RunID))
		for _, r := range rows {
			if r.prev == nil || !r.prev.Started() {
				continue
			}
			n++
			task(r.prev.Title, "", n, r.prev.From(), r.prev.To())
		}
	}
	if win, ok := t.Window(); ok {
		fmt.Fprintf(&b, "    section window\n    %s :milestone, crit, w, %d, %d\n", name("window ends "+t.WindowEnd.UTC().Format("15h04")+" UTC"), at(win), at(win))
	}
	return b.String()
}

// finalTags are the gantt tags of a bar's last stretch, and what its label says besides the title:
// only a verified step is done; a failed one is crit; one the runner was stopped in is crit and
// says interrupted; one rolled back, or left unfinished when the run ended, is not done and says so;
// one still going is active.
func finalTags(b *Bar) (tags, suffix string) {
	if b.Spans[len(b.Spans)-1].Open {
		return "active", ""
	}
	switch b.Status {
	case events.StatusDone:
		return "done", ""
	case events.StatusSkipped:
		return "done", " (skipped)"
	case events.StatusFailed:
		return "crit, done", ""
	case events.StatusInterrupted:
		return "crit", " (interrupted)"
	case events.StatusRolledBack:
		return "", " (rolled back)"
	default:
		return "", " (not finished)"
	}
}

// stoppedAt reports whether a runner was stopped in the step at offset at.
func (b *Bar) stoppedAt(at time.Duration) bool {
	for _, s := range b.stops {
		if s == at {
			return true
		}
	}
	return false
}

// name makes text safe as a gantt title or task name: no colon (it ends the name), semicolon or
// hash (line and comment syntax), no line breaks.
func name(s string) string {
	s = strings.NewReplacer(":", " -", ";", ",", "#", "no. ", "\n", " ", "\r", " ").Replace(s)
	s = strings.TrimSpace(s)
	if s == "" {
		return "step"
	}
	return s
}

// segments cuts a bar at its dead spans and where a runner was stopped in it: the stretches of the
// bar between them (each from its first span's start to its last one's end, Mark Work) and the dead
// spans themselves, in order.
func segments(b *Bar) []Span {
	var out []Span
	for _, s := range b.Spans {
		switch {
		case s.Mark == Dead:
			out = append(out, s)
		case len(out) == 0 || out[len(out)-1].Mark == Dead || b.stoppedAt(out[len(out)-1].To) && s.From > out[len(out)-1].To:
			out = append(out, Span{Mark: Work, From: s.From, To: s.To})
		default:
			out[len(out)-1].To = max(out[len(out)-1].To, s.To)
		}
	}
	return out
}
