// Package run is the Run screen: the step list on the left; on the right the current step — its
// notes (Markdown via Glamour), check result, error, the open question and the live output. It only
// folds the runner's records (events.RunState) and answers questions; it never acts on the target.
package run

import (
	"context"
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/progress"
	"charm.land/bubbles/v2/spinner"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/glamour/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	cdiag "github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/header"
	"github.com/cairn-runbooks/cairn/tui/components/logpane"
	"github.com/cairn-runbooks/cairn/tui/components/prompt"
	"github.com/cairn-runbooks/cairn/tui/components/steplist"
	"github.com/cairn-runbooks/cairn/tui/components/timeline"
	"github.com/cairn-runbooks/cairn/tui/keymap"
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
	out       map[string][]string // output lines by step id
	shownFor  string              // the step whose output the pane holds
	pane      *logpane.Model
	prompt    *prompt.Model
	sent      string // question id answered, waiting for the runner to record it
	status    string // a one-line message (answer errors, notes)
	closed    bool
	quitting  bool // asking "leave?"
	noting    bool
	note      textinput.Model
	spin      spinner.Model
	bar       progress.Model
	notes     map[string]string // rendered notes by step id + width
	md        *glamour.TermRenderer
	mdKey     string
	timingsFn func(runbook string) map[string]time.Duration
	arm       tea.Cmd // a new prompt's grace timer, started by the next Update
	showOff   bool    // list the steps not on this path one by one
	timeline  *timeline.Model
	showTL    bool // the timeline in place of the step list and output
	twinFn    func(run events.RunInfo, started time.Time) []events.Event
}

// New opens the page on a source.
func New(c *common.Common, cfg Config) *Model {
	if cfg.Ctx == nil {
		cfg.Ctx = context.Background()
	}
	m := &Model{
		c: c, cfg: cfg, rs: events.NewRunState(), out: map[string][]string{},
		pane:     logpane.New(c),
		spin:     spinner.New(spinner.WithSpinner(spinner.MiniDot), spinner.WithStyle(c.Styles.Current)),
		bar:      progress.New(progress.WithColors(c.Styles.Accent), progress.WithWidth(30), progress.WithoutPercentage()),
		notes:    map[string]string{},
		timeline: timeline.New(c),
	}
	m.note = textinput.New()
	m.note.SetStyles(c.Styles.TextInput())
	m.note.Prompt = "note › "
	m.note.CharLimit = 500
	return m
}

// State is the folded run (read it, do not change it).
func (m *Model) State() *events.RunState { return m.rs }

// Prompt is the open question's model, or nil.
func (m *Model) Prompt() *prompt.Model { return m.prompt }

// Following reports whether the output pane follows new lines.
func (m *Model) Following() bool { return m.pane.Following() }

// Init starts reading records.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{wait(m.cfg.Source.Events()), tick()}
	if !m.c.Static {
		cmds = append(cmds, m.spin.Tick)
	}
	return tea.Batch(cmds...)
}

// wait reads the next records; it blocks in the Cmd's goroutine, then drains what is already there
// so a long replay folds in a few Updates.
func wait(ch <-chan events.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return EventsMsg{Closed: true}
		}
		evs := []events.Event{e}
		for len(evs) < 1024 {
			select {
			case e, ok := <-ch:
				if !ok {
					return EventsMsg{Events: evs, Closed: true}
				}
				evs = append(evs, e)
			default:
				return EventsMsg{Events: evs}
			}
		}
		return EventsMsg{Events: evs}
	}
}

func tick() tea.Cmd { return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) }) }

func answer(ctx context.Context, src Source, a events.Answer) tea.Cmd {
	return func() tea.Msg { return AnsweredMsg{QuestionID: a.QuestionID, Err: src.Answer(ctx, a)} }
}

func note(ctx context.Context, src Source, text string) tea.Cmd {
	return func() tea.Msg { return NotedMsg{Err: src.Note(ctx, text)} }
}

// Apply folds records into the page (Update does this for EventsMsg; tests and benchmarks may call it).
func (m *Model) Apply(evs ...events.Event) {
	for _, e := range evs {
		m.rs.Apply(e)
		m.timeline.Apply(e)
		if e.Type == events.OutputLine && e.Line != nil {
			id, _ := events.BaseID(e.Step)
			lines := append(m.out[id], e.Line.Text)
			if over := len(lines) - logpane.MaxLines; over > 0 {
				lines = lines[over:]
			}
			m.out[id] = lines
			if id == m.shownFor {
				m.pane.Append(e.Line.Text)
			}
		}
		if e.Type == events.RunStarted && e.Run != nil {
			m.notes = map[string]string{}
			if m.timingsFn != nil && m.cfg.Timings == nil {
				m.cfg.Timings = m.timingsFn(e.Run.Runbook)
			}
			if m.twinFn != nil {
				m.timeline.SetRehearsal(m.twinFn(*e.Run, e.Time))
			}
		}
	}
	if cur := m.rs.Current(); cur != nil && cur.Info.ID != m.shownFor {
		m.shownFor = cur.Info.ID
		m.pane.Reset()
		m.pane.Append(m.out[m.shownFor]...)
	}
	m.syncPrompt()
}

func (m *Model) syncPrompt() {
	q := m.rs.Open
	switch {
	case q == nil:
		m.prompt, m.sent = nil, ""
	case m.prompt == nil || m.prompt.Q.ID != q.ID:
		// a new question: an answer sent to the previous one no longer holds this prompt back
		m.prompt = prompt.New(m.c, q, m.runID(), m.cfg.ReadOnly)
		m.prompt.Destructive = m.destructive(q.Step)
		m.arm = m.prompt.Arm()
		m.status = ""
		if m.sent != q.ID {
			m.sent = ""
		}
	}
	if m.prompt != nil && q.Kind == events.AskApproval {
		n := 0
		for _, a := range m.rs.Answers {
			if a.Answer != nil && a.Answer.QuestionID == q.ID && a.Answer.Yes {
				n++
			}
		}
		m.prompt.SetApproved(n)
	}
}

// destructive reports whether step id is marked destructive in the run's record.
func (m *Model) destructive(id string) bool {
	base, _ := events.BaseID(id)
	for _, st := range m.rs.Steps {
		if st.Info.ID == base || st.Info.ID == id {
			return st.Info.Destructive
		}
	}
	return false
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
	return m.noting || (m.prompt != nil && m.prompt.Capturing() && m.sent == "")
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

// Update handles a message.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case EventsMsg:
		m.Apply(msg.Events...)
		arm := m.arm
		m.arm = nil
		if msg.Closed {
			m.closed = true
			return arm
		}
		return tea.Batch(arm, wait(m.cfg.Source.Events()))
	case prompt.ReadyMsg:
		if m.prompt != nil {
			m.prompt.Update(msg)
		}
		return nil
	case AnsweredMsg:
		if msg.Err != nil {
			m.sent = ""
			m.status = "the answer did not reach the runner: " + msg.Err.Error()
		}
		return nil
	case NotedMsg:
		if msg.Err != nil {
			m.status = "the note was not written: " + msg.Err.Error()
		} else {
			m.status = "note written to the journal"
		}
		return nil
	case tickMsg:
		return tick()
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.prompt != nil {
		_, cmd := m.prompt.Update(msg)
		return cmd
	}
	return nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.quitting {
		switch {
		case key.Matches(msg, k.Yes), key.Matches(msg, k.ForceQuit):
			return func() tea.Msg { return common.QuitMsg{Message: m.LeaveMessage()} }
		case key.Matches(msg, k.No), key.Matches(msg, k.Cancel), key.Matches(msg, k.Quit):
			m.quitting = false
		}
		return nil
	}
	if key.Matches(msg, k.ForceQuit) || (key.Matches(msg, k.Quit) && !m.Capturing()) {
		if m.Running() && !m.cfg.ReadOnly {
			m.quitting = true
			m.noting = false
			return nil
		}
		return func() tea.Msg { return common.QuitMsg{Message: m.LeaveMessage()} }
	}
	if m.noting {
		switch {
		case key.Matches(msg, k.Cancel):
			m.noting = false
			m.note.Reset()
		case key.Matches(msg, k.Submit):
			text := strings.TrimSpace(m.note.Value())
			m.noting = false
			m.note.Reset()
			if text != "" {
				return note(m.cfg.Ctx, m.cfg.Source, text)
			}
		default:
			var cmd tea.Cmd
			m.note, cmd = m.note.Update(msg)
			return cmd
		}
		return nil
	}
	promptLive := m.prompt != nil && !m.cfg.ReadOnly && m.sent == "" && m.prompt.Q.Kind != events.AskApproval
	if promptLive && m.prompt.Capturing() {
		return m.answerWith(msg)
	}
	if key.Matches(msg, k.PageUp, k.PageDown, k.Bottom, k.Top) {
		m.pane.Update(msg)
		return nil
	}
	if key.Matches(msg, k.Timeline) {
		m.showTL = !m.showTL
		return nil
	}
	if key.Matches(msg, k.OffPath) && steplist.Folded(m.rs) > 0 {
		m.showOff = !m.showOff
		return nil
	}
	if promptLive {
		return m.answerWith(msg)
	}
	if key.Matches(msg, k.Note) && !m.cfg.ReadOnly && m.Running() {
		m.noting = true
		return m.note.Focus()
	}
	m.pane.Update(msg)
	return nil
}

func (m *Model) answerWith(msg tea.Msg) tea.Cmd {
	a, cmd := m.prompt.Update(msg)
	if a == nil {
		return cmd
	}
	m.sent = a.QuestionID
	m.status = ""
	return answer(m.cfg.Ctx, m.cfg.Source, *a)
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

// Help is the footer's keys.
func (m *Model) Help() keymap.Help {
	k := m.c.Keys
	switch {
	case m.quitting:
		return keymap.Help{Short: []key.Binding{k.Yes, k.No}}
	case m.noting:
		return keymap.Help{Short: []key.Binding{k.Submit, k.Cancel}}
	}
	var short []key.Binding
	if m.prompt != nil && !m.cfg.ReadOnly && m.sent == "" {
		short = append(short, m.prompt.Keys()...)
	}
	scroll := []key.Binding{k.PageUp, k.PageDown, k.Follow}
	if m.prompt == nil || m.cfg.ReadOnly {
		scroll = append([]key.Binding{k.Up, k.Down}, scroll...)
	}
	if m.showTL {
		scroll = nil
	}
	short = append(short, scroll...)
	short = append(short, k.Timeline)
	if !m.cfg.ReadOnly && m.Running() && m.prompt == nil {
		short = append(short, k.Note)
	}
	quit := k.Quit
	if m.Capturing() {
		quit = k.ForceQuit
	}
	short = append(short, quit, k.Help)
	full := [][]key.Binding{
		{k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Follow},
		{k.Yes, k.No, k.Toggle, k.Submit, k.Cancel},
		{k.Note, k.OffPath, k.Timeline, k.Quit, k.ForceQuit, k.Help},
	}
	return keymap.Help{Short: short, Full: full}
}

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
	left := steplist.View(m.c, m.rs, leftW, h, m.showOff)
	sep := s.Rule.Render(strings.TrimRight(strings.Repeat("│\n", h), "\n"))
	right := m.right(rightW, h)
	return lipgloss.JoinHorizontal(lipgloss.Top, " ", left, " ", sep, " ", right)
}

func (m *Model) right(w, h int) string {
	s := m.c.Styles
	var top []string
	add := func(x string) {
		if x != "" {
			top = append(top, x)
		}
	}
	cur := m.rs.Current()
	top = append(top, m.above(w)...)
	if cur != nil {
		n := m.rs.CurrentIndex() + 1
		title := fmt.Sprintf("%d/%d  %s", n, len(m.rs.Steps), cur.Info.Title)
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
			x := "check: " + c.State
			if c.Change != "" {
				x += " · " + c.Change
			}
			if c.Reason != "" {
				x += " — " + c.Reason
			}
			add(s.Subtle.Render(wrapText(x, w)))
			if c.Fix != "" {
				add(s.Subtle.Render(wrapText("fix: "+c.Fix, w)))
			}
		}
		if cur.Note != "" && cur.Status == events.StatusSkipped {
			add(s.Subtle.Render(wrapText("skipped: "+cur.Note, w)))
		}
		if d := cur.Error; d != nil && m.rs.Open == nil {
			add(diag(m.c, d, w))
		} else if d != nil {
			// a decision is open: its prompt says what failed; add why and where things stand
			if d.Detail != "" {
				add(wrapText(d.Detail, w))
			}
			if d.State != "" {
				add(s.Subtle.Render(wrapText("state: "+d.State, w)))
			}
			if d.Next != "" {
				add(s.Subtle.Render(wrapText("next: "+d.Next, w)))
			}
		}
	} else if m.rs.Status == "" {
		add(s.Subtle.Render("waiting for the run's first record…"))
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
		notes = strings.Split(m.renderNotes(cur.Info.ID, cur.Info.Notes, w), "\n")
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
		m.pane.SetSize(w, avail)
		parts = append(parts, m.pane.View())
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
	if m.noting {
		m.note.SetWidth(w - 10)
		out = append(out, m.note.View())
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
	if cur := m.rs.Current(); cur != nil {
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
			return s.Warning.Render(wrapText("✓ run succeeded — "+m.rs.FinishNote, w)) + s.Subtle.Render(" · "+id+" · q to leave")
		}
		return s.Success.Render("✓ run succeeded") + s.Subtle.Render(" · "+id+" · q to leave")
	case events.RolledBack:
		return s.Bold.Render("↩ run rolled back") + s.Subtle.Render(" · "+id+" · q to leave")
	case events.Interrupted:
		return s.Warning.Render(wrapText("! run interrupted — "+m.rs.FinishNote, w)) + s.Subtle.Render(" · cairn resume "+id+" to continue · q to leave")
	default:
		return s.Failure.Render("✗ run "+string(m.rs.Status)) + s.Subtle.Render(" · cairn resume "+id+" to continue · q to leave")
	}
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
	d := steplist.Duration(m.c, cur)
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

func wrapText(x string, w int) string { return lipgloss.NewStyle().Width(max(w, 10)).Render(x) }

// renderNotes renders a step's notes with Glamour at a fixed width, once per step and width; plain
// wrapped text when Glamour fails.
func (m *Model) renderNotes(id, md string, w int) string {
	key := fmt.Sprintf("%s@%d", id, w)
	if r, ok := m.notes[key]; ok {
		return r
	}
	out, err := m.glamour(w)
	var r string
	if err == nil {
		r, err = out.Render(md)
	}
	if err != nil {
		r = wrapText(strings.TrimSpace(md), w)
	}
	lines := strings.Split(strings.Trim(r, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	for len(lines) > 0 && strings.TrimSpace(ansi.Strip(lines[0])) == "" {
		lines = lines[1:]
	}
	r = strings.Join(lines, "\n")
	m.notes[key] = r
	return r
}

func (m *Model) glamour(w int) (*glamour.TermRenderer, error) {
	style := "light"
	if m.c.Styles.IsDark {
		style = "dark"
	}
	k := fmt.Sprintf("%s@%d", style, w)
	if m.md != nil && m.mdKey == k {
		return m.md, nil
	}
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(w-4))
	if err != nil {
		return nil, err
	}
	m.md, m.mdKey = r, k
	return r, nil
}

// Restyle is called when the background turns out light or dark.
func (m *Model) Restyle() {
	m.notes = map[string]string{}
	m.md = nil
	m.spin.Style = m.c.Styles.Current
	m.note.SetStyles(m.c.Styles.TextInput())
	if m.prompt != nil {
		m.prompt.Restyle()
	}
}

// SetTwin sets where the rehearsal the timeline compares the run with comes from; it is asked
// once the run names itself.
func (m *Model) SetTwin(f func(run events.RunInfo, started time.Time) []events.Event) { m.twinFn = f }

// SetTimings sets the rehearsal timings source; it is read once the run names its runbook.
func (m *Model) SetTimings(f func(runbook string) map[string]time.Duration) { m.timingsFn = f }
