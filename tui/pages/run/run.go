// Package run is the Run screen: the step list on the left; on the right the current step — its
// notes (Markdown via Glamour), check result, error, the open question and the live output — or,
// with t, the run's timeline. It only folds the runner's records (events.RunState) and answers
// questions; it never acts on the target.
//
// One job a file: run.go the page's state and what it tells the root (header, leave message);
// fold.go the records folded in; update.go messages in, commands out; keys.go the keys and the
// footer; question.go the open question; view.go the layout; current.go the current step;
// diagnostic.go its failure; and three small parts with their own state: output.go (each step's
// output and the pane), stepnotes.go (notes rendered once per step and width), noteinput.go (the
// engineer's note). The ETA is the run state's (events.RunState.ETA).
package run

import (
	"context"
	"time"

	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/header"
	"github.com/cairn-runbooks/cairn/tui/components/prompt"
	"github.com/cairn-runbooks/cairn/tui/components/timeline"
)

// Source is the run as this page reads it (tui.RunSource satisfies it).
type Source interface {
	Events() <-chan events.Event
	Answer(ctx context.Context, a events.Answer) error
	Note(ctx context.Context, text string) error
	RunID() string
}

// Config is what the page is opened with.
type Config struct {
	Ctx       context.Context
	Source    Source
	Timings   map[string]time.Duration
	Target    string    // used until the run's own record names one
	WindowEnd time.Time // used until the run's own record names one
	ReadOnly  bool
}

// EventsMsg carries records read from the source, in order.
type EventsMsg struct {
	Events []events.Event
	Closed bool // the source is closed: nothing more will come
}

// AnsweredMsg reports that an answer was handed to the runner (or why not).
type AnsweredMsg struct {
	QuestionID string
	Err        error
}

// NotedMsg reports a note written.
type NotedMsg struct{ Err error }

type tickMsg time.Time

// Model is the page.
type Model struct {
	c         *common.Common
	cfg       Config
	rs        *events.RunState
	out       *output
	prompt    *prompt.Model
	sent      string // question id answered, waiting for the runner to record it
	status    string // a one-line message (answer errors, notes)
	closed    bool
	quitting  bool // asking "leave?"
	noteBox   *noteBox
	spin      spinner.Model
	bar       progress.Model
	notes     *stepNotes
	timingsFn func(runbook string) map[string]time.Duration
	arm       tea.Cmd // a new prompt's grace timer, started by the next Update
	showOff   bool    // list the steps not on this path one by one
	timeline  *timeline.Model
	showTL    bool // the timeline in place of the step list and output
	sel       int  // the step the engineer moved to; -1: the step the run is on (selection.go)
	twinFn    func(run events.RunInfo, started time.Time) []events.Event
}

// New opens the page on a source.
func New(c *common.Common, cfg Config) *Model {
	if cfg.Ctx == nil {
		cfg.Ctx = context.Background()
	}
	m := &Model{
		c: c, cfg: cfg, rs: events.NewRunState(), out: newOutput(c), sel: -1,
		spin:     spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(c.Styles.Current)),
		bar:      progress.New(progress.WithColors(c.Styles.Accent), progress.WithWidth(30), progress.WithoutPercentage()),
		notes:    newStepNotes(c),
		noteBox:  newNoteBox(c),
		timeline: timeline.New(c),
	}
	return m
}

// State is the folded run (read it, do not change it).
func (m *Model) State() *events.RunState { return m.rs }

// Prompt is the open question's model, or nil.
func (m *Model) Prompt() *prompt.Model { return m.prompt }

// Following reports whether the output pane follows new lines.
func (m *Model) Following() bool { return m.out.pane.Following() }

// Init starts reading records.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{wait(m.cfg.Source.Events()), tick()}
	if !m.c.Static {
		cmds = append(cmds, m.spin.Tick)
	}
	return tea.Batch(cmds...)
}

func (m *Model) runID() string {
	if m.rs.Info.ID != "" {
		return m.rs.Info.ID
	}
	return m.cfg.Source.RunID()
}

// Running reports whether the run is still going as far as this page knows.
func (m *Model) Running() bool { return m.rs.Status == "" && !m.closed }

// Capturing reports whether keys are text (the root must leave q and ? alone).
func (m *Model) Capturing() bool {
	return m.noteBox.open || (m.prompt != nil && m.prompt.Capturing() && m.sent == "")
}

// LeaveMessage is what to print after leaving.
func (m *Model) LeaveMessage() string {
	switch {
	case m.Running() && m.cfg.ReadOnly:
		return "stopped following; the run goes on: cairn follow " + m.runID()
	case m.Running():
		return "the run goes on in the background: cairn attach " + m.runID()
	}
	return ""
}

// Header is what the header shows.
func (m *Model) Header() header.Info {
	in := header.Info{
		Page: "run", Runbook: m.rs.Info.Title, Target: m.rs.Info.Target, Rehearsal: m.rs.Info.Rehearsal,
		ReadOnly: m.cfg.ReadOnly, Started: m.rs.Started, WindowEnd: m.rs.Info.WindowEnd,
	}
	if in.Runbook == "" {
		in.Runbook = m.rs.Info.Runbook
	}
	if in.Target == "" {
		in.Target = m.cfg.Target
	}
	if in.WindowEnd.IsZero() {
		in.WindowEnd = m.cfg.WindowEnd
	}
	if m.rs.Status != "" {
		in.Finished = m.rs.Last
	}
	in.ETA, in.ETAKnown = m.rs.ETA(m.cfg.Timings, m.c.Now())
	return in
}

// Restyle is called when the background turns out light or dark.
func (m *Model) Restyle() {
	m.notes.reset()
	m.spin.Style = m.c.Styles.Current
	m.noteBox.restyle()
	if m.prompt != nil {
		m.prompt.Restyle()
	}
}

// SetTwin sets where the rehearsal the timeline compares the run with comes from; it is asked
// once the run names itself.
func (m *Model) SetTwin(f func(run events.RunInfo, started time.Time) []events.Event) { m.twinFn = f }

// SetTimings sets the rehearsal timings source; it is read once the run names its runbook.
func (m *Model) SetTimings(f func(runbook string) map[string]time.Duration) { m.timingsFn = f }
