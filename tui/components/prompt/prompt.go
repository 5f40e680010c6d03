// Package prompt shows the runner's open question and turns the engineer's keys into an Answer:
// yes/no, typed confirmation, a failure decision, a checklist, go/no-go, a value (masked when
// secret), and the approval wait (answered elsewhere, by `cairn approve`). Read-only, it shows the
// question and answers nothing.
//
// Type-ahead guard: a prompt takes no keys until it is ready. Keys that arrive before it was shown
// and during a grace period after (Grace; DestructiveGrace for destructive, typed, go/no-go and
// failure questions) are dropped, and the box says so; once ready it shows the "ready" cue. No
// question has a choice a bare Enter takes unseen: yes/no and go/no-go start with nothing chosen,
// and a failure decision starts on its first option that does not end the run.
package prompt

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// Grace periods: how long after a question is shown its keys are still dropped.
const (
	Grace            = 400 * time.Millisecond
	DestructiveGrace = 1200 * time.Millisecond
)

// ReadyMsg says a question's grace period is over: from now on its keys answer it.
type ReadyMsg struct{ QuestionID string }

// Model is one open question.
type Model struct {
	c        *common.Common
	Q        *events.Question
	runID    string
	readOnly bool
	// Destructive marks a question before a destructive step (the longer grace).
	Destructive bool
	ready       bool
	dropped     int // keys dropped during the grace period
	cursor      int // -1: nothing chosen
	ticked      []bool
	input       textinput.Model
	msg         string // why the last try was refused
	approved    int    // approvals recorded so far
}

// New prepares a question for answering.
func New(c *common.Common, q *events.Question, runID string, readOnly bool) *Model {
	m := &Model{c: c, Q: q, runID: runID, readOnly: readOnly, ticked: make([]bool, len(q.Items))}
	switch q.Kind {
	case events.AskConfirm, events.AskGoNoGo:
		m.cursor = -1 // either answer may end or change the run: the engineer picks one
	case events.AskDecision:
		m.cursor = -1
		for i, o := range q.Options {
			if !endsRun(o.Key) {
				m.cursor = i
				break
			}
		}
	}
	if m.usesInput() {
		ti := textinput.New()
		ti.SetStyles(c.Styles.TextInput())
		ti.Prompt = "› "
		ti.SetWidth(40)
		if q.Secret {
			ti.EchoMode = textinput.EchoPassword
			ti.EchoCharacter = '•'
		}
		if !readOnly {
			ti.Focus()
		}
		m.input = ti
	}
	return m
}

// endsRun reports whether a failure decision stops the run (so it is never the preselected one).
func endsRun(d events.Decision) bool {
	return d == events.Abort || d == events.Rollback || d == events.Cutback
}

// answers reports whether this prompt ever takes keys.
func (m *Model) answers() bool { return !m.readOnly && m.Q.Kind != events.AskApproval }

// GraceFor is how long this question's keys are dropped after it is shown.
func (m *Model) GraceFor() time.Duration {
	switch {
	case m.Destructive, m.Q.Kind == events.AskTyped, m.Q.Kind == events.AskGoNoGo, m.Q.Kind == events.AskDecision,
		m.Q.Purpose == events.PurposeFailure, m.Q.Purpose == events.PurposeGoNoGo, m.Q.Purpose == events.PurposeUndoStep:
		return DestructiveGrace
	}
	return Grace
}

// Arm starts the grace period; its ReadyMsg, handed to Update, makes the prompt take keys. A
// prompt that answers nothing (read-only, approval) needs no arming.
func (m *Model) Arm() tea.Cmd {
	if !m.answers() || m.ready {
		return nil
	}
	after, d, id := m.c.Timer(), m.GraceFor(), m.Q.ID
	return func() tea.Msg {
		<-after(d)
		return ReadyMsg{QuestionID: id}
	}
}

// Ready reports whether keys now answer the question.
func (m *Model) Ready() bool { return m.ready }

// Restyle picks up new styles, keeping what was typed, chosen and whether it is ready.
func (m *Model) Restyle() {
	if m.usesInput() {
		m.input.SetStyles(m.c.Styles.TextInput())
	}
}

func (m *Model) usesInput() bool { return m.Q.Kind == events.AskTyped || m.Q.Kind == events.AskInput }

// Capturing reports whether keys are text: the page must not treat q as quit.
func (m *Model) Capturing() bool { return m.usesInput() && !m.readOnly }

// SetApproved records how many approvals have arrived.
func (m *Model) SetApproved(n int) { m.approved = n }

// Refused is the message shown for the last refused try ("" when none).
func (m *Model) Refused() string { return m.msg }

// Update handles a message; it returns the answer once the engineer has given one.
func (m *Model) Update(msg tea.Msg) (*events.Answer, tea.Cmd) {
	if !m.answers() {
		return nil, nil
	}
	if r, ok := msg.(ReadyMsg); ok {
		if r.QuestionID == m.Q.ID {
			m.ready = true
		}
		return nil, nil
	}
	if !m.ready {
		switch msg.(type) {
		case tea.KeyPressMsg, tea.PasteMsg:
			m.dropped++ // typed before the question could be read: never its answer
			return nil, nil
		}
	}
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		if m.usesInput() {
			var cmd tea.Cmd
			m.input, cmd = m.input.Update(msg)
			return nil, cmd
		}
		return nil, nil
	}
	k := m.c.Keys
	ans := &events.Answer{QuestionID: m.Q.ID}
	switch m.Q.Kind {
	case events.AskConfirm, events.AskGoNoGo:
		switch {
		case key.Matches(kp, k.Yes):
			return m.yesNo(ans, true), nil
		case key.Matches(kp, k.No):
			return m.yesNo(ans, false), nil
		case kp.String() == "left" || kp.String() == "h" || key.Matches(kp, k.Up):
			m.cursor = 0
		case kp.String() == "right" || kp.String() == "l" || key.Matches(kp, k.Down) || kp.String() == "tab":
			m.cursor = 1
		case key.Matches(kp, k.Submit):
			if m.cursor < 0 {
				m.msg = "nothing is chosen yet: press y or n (or ←/→, then enter)"
				return nil, nil
			}
			return m.yesNo(ans, m.cursor == 0), nil
		}
	case events.AskDecision:
		switch {
		case key.Matches(kp, k.Up):
			m.cursor = max(0, m.cursor-1)
		case key.Matches(kp, k.Down):
			m.cursor = min(len(m.Q.Options)-1, m.cursor+1)
		case key.Matches(kp, k.Submit) && m.cursor < 0:
			m.msg = "nothing is chosen yet: pick an option with ↑/↓ or its number, then enter"
		case key.Matches(kp, k.Submit) && len(m.Q.Options) > 0:
			ans.Choice = m.Q.Options[m.cursor].Key
			return ans, nil
		default:
			if n, err := strconv.Atoi(kp.String()); err == nil && n >= 1 && n <= len(m.Q.Options) {
				m.cursor = n - 1
			}
		}
	case events.AskChecklist:
		switch {
		case key.Matches(kp, k.Up):
			m.cursor = max(0, m.cursor-1)
		case key.Matches(kp, k.Down):
			m.cursor = min(len(m.Q.Items)-1, m.cursor+1)
		case key.Matches(kp, k.Toggle) && len(m.ticked) > 0:
			m.ticked[m.cursor] = !m.ticked[m.cursor]
			m.msg = ""
		case key.Matches(kp, k.Submit):
			left := 0
			for _, t := range m.ticked {
				if !t {
					left++
				}
			}
			if left > 0 {
				m.msg = fmt.Sprintf("%d item%s not ticked: check each one, then space to tick it", left, plural(left))
				return nil, nil
			}
			ans.Yes = true
			return ans, nil
		}
	case events.AskTyped:
		switch {
		case key.Matches(kp, k.Submit):
			v := m.input.Value()
			if v != m.Q.Expect {
				m.msg = fmt.Sprintf("%q is not %q: nothing was done. Type it exactly, or esc to decline.", v, m.Q.Expect)
				m.input.Reset()
				return nil, nil
			}
			m.input.Reset()
			ans.Yes, ans.Value = true, v
			return ans, nil
		case key.Matches(kp, k.Cancel):
			m.input.Reset()
			return ans, nil // Yes false: declined
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(kp)
		return nil, cmd
	case events.AskInput:
		if key.Matches(kp, k.Submit) {
			v := m.input.Value()
			if v == "" {
				m.msg = "a value is needed"
				return nil, nil
			}
			m.input.Reset() // a secret is never shown again, not even masked
			ans.Value = v
			ans.Yes = true
			return ans, nil
		}
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(kp)
		return nil, cmd
	}
	return nil, nil
}

func (m *Model) yesNo(a *events.Answer, yes bool) *events.Answer {
	a.Yes = yes
	if m.Q.Kind == events.AskGoNoGo {
		a.Choice = map[bool]events.Decision{true: events.Go, false: events.NoGo}[yes]
	}
	return a
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// Keys are the bindings live for this question, for the footer.
func (m *Model) Keys() []key.Binding {
	k := m.c.Keys
	if m.readOnly || m.Q.Kind == events.AskApproval {
		return nil
	}
	switch m.Q.Kind {
	case events.AskConfirm, events.AskGoNoGo:
		return []key.Binding{k.Yes, k.No, k.Submit}
	case events.AskDecision:
		return []key.Binding{k.Up, k.Down, k.Submit}
	case events.AskChecklist:
		return []key.Binding{k.Up, k.Down, k.Toggle, k.Submit}
	case events.AskTyped:
		return []key.Binding{k.Submit, k.Cancel}
	}
	return []key.Binding{k.Submit}
}

// View draws the question in a box width wide.
func (m *Model) View(width int) string {
	s := m.c.Styles
	inner := max(width-4, 10)
	wrap := lipgloss.NewStyle().Width(inner)
	var b strings.Builder
	line := func(x string) { b.WriteString(x + "\n") }
	title := m.Q.Prompt
	if title == "" {
		title = string(m.Q.Kind)
	}
	box := s.PromptBox
	if m.Q.Kind == events.AskDecision {
		box = s.FailBox
		line(s.Failure.Render(wrap.Render(title)))
	} else {
		line(s.Bold.Render(wrap.Render(title)))
	}
	if m.Q.Detail != "" {
		line(wrap.Render(m.Q.Detail))
	}
	switch m.Q.Kind {
	case events.AskConfirm, events.AskGoNoGo:
		yes, no := "Yes", "No"
		if m.Q.Kind == events.AskGoNoGo {
			yes, no = "Go", "No-go"
		}
		line(m.choice(yes, m.cursor == 0) + "   " + m.choice(no, m.cursor == 1))
	case events.AskTyped:
		line("Type " + s.Code.Render(m.Q.Expect) + " to confirm:")
		line(m.input.View())
	case events.AskInput:
		if m.Q.Secret {
			line(s.Subtle.Render("secret: masked while typed, never shown or recorded"))
		}
		line(m.input.View())
	case events.AskDecision:
		for i, o := range m.Q.Options {
			label := fmt.Sprintf("%d. %s", i+1, o.Label)
			mark := "  "
			if i == m.cursor && !m.readOnly {
				mark = s.Current.Render("› ")
				label = s.Current.Render(label)
			}
			line(mark + label)
			if o.Effect != "" {
				line(s.Subtle.Render(lipgloss.NewStyle().Width(inner - 5).PaddingLeft(5).Render(o.Effect)))
			}
		}
	case events.AskChecklist:
		for i, it := range m.Q.Items {
			box := "[ ]"
			if m.ticked[i] {
				box = "[x]"
			}
			x := box + " " + it
			if i == m.cursor && !m.readOnly {
				x = s.Current.Render("› " + x)
			} else {
				x = "  " + x
			}
			line(x)
		}
	case events.AskApproval:
		need := max(m.Q.Approvals, 1) - m.approved
		line(wrap.Render(fmt.Sprintf("waiting for %d more approval%s: run %s as another user", need, plural(need), s.Code.Render("`cairn approve "+m.runID+"`"))))
		if m.Q.Starter != "" {
			line(s.Subtle.Render(m.Q.Starter + " started this run and cannot approve it"))
		}
	}
	if m.msg != "" {
		line(s.ErrorText.Render(wrap.Render(m.msg)))
	}
	if m.answers() {
		if m.ready {
			line(s.Current.Render("● ready") + s.Subtle.Render(" — your keys answer now"))
		} else {
			line(s.Subtle.Render(wrap.Render("○ read it first — keys pressed now are ignored")))
		}
	}
	if m.readOnly && m.Q.Kind != events.AskApproval {
		line(s.ReadOnly.Render("following read-only: the engineer running it answers"))
	}
	return box.Width(width).Render(strings.TrimRight(b.String(), "\n"))
}

func (m *Model) choice(label string, focused bool) string {
	if m.readOnly {
		return "  " + label + "  "
	}
	if focused {
		return m.c.Styles.Current.Render("[ " + label + " ]")
	}
	return "  " + label + "  "
}
