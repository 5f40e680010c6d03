// Package timeline lays a run out on a time axis: one bar per step, made of spans — the step at
// work, a wait step polling its condition, a question waiting for a person, a rollback — placed
// at their offsets from the run's start. It folds the journal's records only, incrementally, so
// the TUI's timeline follows a live run and `cairn report` draws a finished one from the same
// fold. Drawing is in chart.go (text, styled or plain) and mermaid.go (a Mermaid gantt block).
package timeline

import (
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// Mark is what a span of a bar was spent on.
type Mark int

// Marks.
const (
	Work     Mark = iota // checking, applying, verifying
	Wait                 // a wait step polling its condition
	Prompt               // a question open, waiting for a person
	Rollback             // undoing the step
	// Dead: the runner died in the step (no final record) and nothing ran until the next runner
	// took the run up — from the dead runner's last record (an output line counts) to the resume.
	Dead
)

// Span is one stretch of a bar, as offsets from the run's start. Open: still going at the last
// record (a live run draws it up to now).
type Span struct {
	Mark     Mark
	From, To time.Duration
	Open     bool
}

// Bar is one step's row.
type Bar struct {
	ID, Title string
	Status    events.StepStatus
	Spans     []Span
	wait      bool // a wait step: its apply is polling
	// stops are where a runner was stopped in the step (step.interrupted): the bar's work ends
	// there, and what a resume does is a separate stretch
	stops  []time.Duration
	resume Mark // the mark a question interrupted, reopened after the answer
}

// Started reports whether the step has any span.
func (b *Bar) Started() bool { return len(b.Spans) > 0 }

// From is where the bar begins.
func (b *Bar) From() time.Duration {
	if len(b.Spans) == 0 {
		return 0
	}
	return b.Spans[0].From
}

// To is where the bar ends (an open span ends at the last record).
func (b *Bar) To() time.Duration {
	if len(b.Spans) == 0 {
		return 0
	}
	return b.Spans[len(b.Spans)-1].To
}

// Took is the bar's length without the time spent waiting for a person or with no runner alive.
func (b *Bar) Took() time.Duration {
	var d time.Duration
	for _, s := range b.Spans {
		if s.Mark != Prompt && s.Mark != Dead {
			d += s.To - s.From
		}
	}
	return d
}

// Timeline is a run folded onto its time axis.
type Timeline struct {
	RunID, Runbook, Title string
	Rehearsal             bool
	Start                 time.Time
	WindowEnd             time.Time // zero: no window
	Status                events.RunStatus
	Last                  time.Duration // offset of the last record
	heard                 time.Duration // offset of the last record or output line of the runner
	Bars                  []*Bar
	byID                  map[string]*Bar
	asked                 map[string]string // open question id → step id
}

// New returns an empty timeline; feed it records with Apply.
func New() *Timeline { return &Timeline{byID: map[string]*Bar{}, asked: map[string]string{}} }

// Build folds a run's records.
func Build(recs []events.Event) *Timeline {
	t := New()
	for _, e := range recs {
		t.Apply(e)
	}
	return t
}

// Bar is the bar of a step id, or nil.
func (t *Timeline) Bar(id string) *Bar { return t.byID[id] }

// Live reports whether the run has not ended.
func (t *Timeline) Live() bool { return !t.Status.Ended() }

// Apply folds one record.
func (t *Timeline) Apply(e events.Event) {
	if e.Type == events.OutputLine || e.Type == events.Progressed {
		if !t.Start.IsZero() {
			t.heard = max(t.heard, e.Time.Sub(t.Start))
		}
		return
	}
	if e.Type == events.RunStarted && e.Run != nil {
		*t = *New()
		t.RunID, t.Runbook, t.Title, t.Rehearsal = e.Run.ID, e.Run.Runbook, e.Run.Title, e.Run.Rehearsal
		t.Start, t.WindowEnd = e.Time, e.Run.WindowEnd
		for _, si := range e.Run.Steps {
			if si.OffPath != "" {
				continue
			}
			b := &Bar{ID: si.ID, Title: si.Title, Status: events.StatusPending, wait: si.Kind == "wait"}
			t.Bars = append(t.Bars, b)
			t.byID[si.ID] = b
		}
		return
	}
	if t.Start.IsZero() {
		return
	}
	at := e.Time.Sub(t.Start)
	if (e.Type == events.RunResumed || e.Type == events.RunTakenOver) && t.Status == "" {
		t.died(at)
	}
	t.Last = max(t.Last, at)
	t.heard = max(t.heard, at)
	t.extend(at)
	switch e.Type {
	case events.RunFinished:
		t.Status = e.Status
		for _, b := range t.Bars {
			b.close(at)
		}
		return
	case events.RunResumed, events.RunTakenOver:
		t.Status = ""
		return
	case events.QuestionAsked:
		if e.Question == nil {
			return
		}
		if b := t.bar(e.Step); b != nil {
			b.resume = b.close(at)
			b.open(Prompt, at)
			t.asked[e.Question.ID] = b.ID
		}
		return
	case events.QuestionAnswered:
		if e.Answer == nil {
			return
		}
		if b := t.byID[t.asked[e.Answer.QuestionID]]; b != nil {
			delete(t.asked, e.Answer.QuestionID)
			if b.close(at) == Prompt && b.Status.Active() {
				b.open(b.resume, at)
			}
		}
		return
	}
	b := t.bar(e.Step)
	if b == nil {
		return
	}
	switch e.Type {
	case events.StepChecking:
		b.Status = events.StatusChecking
		b.open(Work, at)
	case events.StepApplying:
		b.Status = events.StatusRunning
		if b.wait {
			b.close(at)
			b.open(Wait, at)
		} else {
			b.open(Work, at)
		}
	case events.StepVerifying:
		b.Status = events.StatusVerifying
		if b.wait {
			b.close(at)
		}
		b.open(Work, at)
	case events.StepRollingBack:
		b.Status = events.StatusRollingBack
		b.close(at)
		b.open(Rollback, at)
	case events.StepVerified, events.StepSkipped, events.StepFailed, events.StepRolledBack,
		events.StepRollbackFailed, events.StepInterrupted:
		b.Status = map[events.Type]events.StepStatus{
			events.StepVerified: events.StatusDone, events.StepSkipped: events.StatusSkipped,
			events.StepFailed: events.StatusFailed, events.StepRolledBack: events.StatusRolledBack,
			events.StepRollbackFailed: events.StatusFailed, events.StepInterrupted: events.StatusInterrupted,
		}[e.Type]
		b.close(at)
		if e.Type == events.StepInterrupted {
			b.stops = append(b.stops, at)
		}
		if e.Type == events.StepSkipped && !b.Started() {
			b.Spans = append(b.Spans, Span{Mark: Work, From: at, To: at})
		}
	}
}

// At is a copy of the timeline with its open spans drawn up to now (a live run between records);
// the timeline itself keeps folding records as they come.
func (t *Timeline) At(now time.Time) *Timeline {
	c := *t
	c.Bars = make([]*Bar, len(t.Bars))
	c.byID = make(map[string]*Bar, len(t.Bars))
	for i, b := range t.Bars {
		nb := *b
		nb.Spans = append([]Span(nil), b.Spans...)
		if n := len(nb.Spans); n > 0 && nb.Spans[n-1].Open && t.Live() && !t.Start.IsZero() {
			nb.Spans[n-1].To = max(nb.Spans[n-1].To, now.Sub(t.Start))
		}
		c.Bars[i], c.byID[b.ID] = &nb, &nb
	}
	return &c
}

// End is where the axis must reach: the last record or the end of the last span.
func (t *Timeline) End() time.Duration {
	end := t.Last
	for _, b := range t.Bars {
		end = max(end, b.To())
	}
	return end
}

// Window is the window's end as an offset from the start, or false.
func (t *Timeline) Window() (time.Duration, bool) {
	if t.WindowEnd.IsZero() || t.Start.IsZero() {
		return 0, false
	}
	return t.WindowEnd.Sub(t.Start), true
}

// died closes, at the dead runner's last word, the span it had open, and marks the time until the
// resume at as dead: the runner stopped without a final record (killed, crashed), so no work was
// done then, whatever the open span was.
func (t *Timeline) died(at time.Duration) {
	for _, b := range t.Bars {
		n := len(b.Spans)
		if n == 0 || !b.Spans[n-1].Open {
			continue
		}
		last := min(max(t.heard, b.Spans[n-1].From), at)
		b.Spans[n-1].To = last
		b.close(last)
		b.Spans = append(b.Spans, Span{Mark: Dead, From: last, To: at})
		if b.Status.Active() {
			b.Status = events.StatusInterrupted
		}
	}
}

func (t *Timeline) bar(key string) *Bar {
	id, _ := events.BaseID(key)
	return t.byID[id]
}

func (t *Timeline) extend(at time.Duration) {
	for _, b := range t.Bars {
		if n := len(b.Spans); n > 0 && b.Spans[n-1].Open {
			b.Spans[n-1].To = max(b.Spans[n-1].To, at)
		}
	}
}

// open starts a span of mark at at, unless one of that mark is already open.
func (b *Bar) open(m Mark, at time.Duration) {
	if n := len(b.Spans); n > 0 && b.Spans[n-1].Open {
		if b.Spans[n-1].Mark == m {
			return
		}
		b.close(at)
	}
	b.Spans = append(b.Spans, Span{Mark: m, From: at, To: at, Open: true})
}

// close ends the open span, if any, and says which mark it had (Work when none was open).
func (b *Bar) close(at time.Duration) Mark {
	n := len(b.Spans)
	if n == 0 || !b.Spans[n-1].Open {
		return Work
	}
	s := &b.Spans[n-1]
	s.To, s.Open = max(s.To, at), false
	return s.Mark
}
