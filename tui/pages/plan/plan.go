// Package plan is the Plan review screen: every step with its exact actions (scrollable),
// destructive ones marked. The engineer starts the run here, or saves the plan as Markdown.
package plan

import (
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/header"
	"github.com/cairn-runbooks/cairn/tui/components/planview"
	"github.com/cairn-runbooks/cairn/tui/keymap"
)

// SavedMsg reports the Markdown written (or why not).
type SavedMsg struct {
	Path string
	Err  error
}

// Model is the page.
type Model struct {
	c         *common.Common
	rb        *runbooks.Runbook
	vals      runbooks.Values
	p         planview.Plan
	windowEnd time.Time
	vp        viewport.Model
	width     int
	saving    bool
	path      textinput.Model
	status    string
	starting  bool
}

// New builds the page.
func New(c *common.Common, rb *runbooks.Runbook, vals runbooks.Values, p planview.Plan, windowEnd time.Time) *Model {
	m := &Model{c: c, rb: rb, vals: vals, p: p, windowEnd: windowEnd}
	m.vp = viewport.New(viewport.WithWidth(40), viewport.WithHeight(10))
	m.vp.KeyMap = viewport.KeyMap{}
	m.path = textinput.New()
	m.path.Prompt = "save to › "
	m.path.SetStyles(c.Styles.TextInput())
	return m
}

// Init does nothing.
func (m *Model) Init() tea.Cmd { return nil }

// Capturing reports whether the path input has the keys.
func (m *Model) Capturing() bool { return m.saving }

// DefaultPath is where the plan is saved unless the engineer types another path.
func (m *Model) DefaultPath() string { return "./" + m.rb.Name + "-plan.md" }

func save(path, md string) tea.Cmd {
	return func() tea.Msg { return SavedMsg{Path: path, Err: os.WriteFile(path, []byte(md), 0o644)} }
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	k := m.c.Keys
	switch msg := msg.(type) {
	case SavedMsg:
		if msg.Err != nil {
			m.status = "not saved: " + msg.Err.Error()
		} else {
			m.status = "plan saved to " + msg.Path
		}
	case tea.KeyPressMsg:
		if m.saving {
			switch {
			case key.Matches(msg, k.Cancel):
				m.saving = false
			case key.Matches(msg, k.Submit):
				m.saving = false
				path := strings.TrimSpace(m.path.Value())
				if path == "" {
					path = m.DefaultPath()
				}
				return save(path, planview.Markdown(m.p, m.c.Now()))
			case key.Matches(msg, k.ForceQuit):
				return func() tea.Msg { return common.QuitMsg{} }
			default:
				var cmd tea.Cmd
				m.path, cmd = m.path.Update(msg)
				return cmd
			}
			return nil
		}
		switch {
		case key.Matches(msg, k.Quit, k.ForceQuit):
			return func() tea.Msg { return common.QuitMsg{} }
		case key.Matches(msg, k.Back):
			return func() tea.Msg { return common.BackMsg{} }
		case key.Matches(msg, k.Save):
			m.saving = true
			m.status = ""
			m.path.SetValue(m.DefaultPath())
			m.path.CursorEnd()
			return m.path.Focus()
		case key.Matches(msg, k.Start):
			if m.starting {
				return nil
			}
			m.starting = true
			m.status = "starting…"
			rb, vals := m.rb, m.vals
			return func() tea.Msg { return common.StartRunMsg{Runbook: rb, Values: vals} }
		case key.Matches(msg, k.OffPath):
			m.p.ShowOffPath = !m.p.ShowOffPath
			m.width = 0 // redraw the plan
		default:
			k.Scroll(&m.vp, msg)
		}
	}
	return nil
}

// StartFailed shows why the run did not start.
func (m *Model) StartFailed(err error) {
	m.starting = false
	m.status = "the run did not start: " + err.Error()
}

// Header is what the header shows.
func (m *Model) Header() header.Info {
	in := header.Info{Page: "plan", Runbook: m.rb.Name, Target: m.p.Target, WindowEnd: m.windowEnd}
	if total, _ := m.p.Total(); len(m.p.Timings) > 0 {
		in.ETA, in.ETAKnown, in.ETALabel = m.c.Now().Add(total), true, "ETA if started now"
	}
	return in
}

// Help is the footer's keys.
func (m *Model) Help() keymap.Help {
	k := m.c.Keys
	if m.saving {
		return keymap.Help{Short: []key.Binding{k.Submit, k.Cancel}}
	}
	return keymap.Help{
		Short: []key.Binding{k.Start, k.Save, k.Up, k.Down, k.PageDown, k.Back, k.Quit, k.Help},
		Full:  [][]key.Binding{{k.Start, k.Save, k.OffPath, k.Back}, {k.Up, k.Down, k.PageUp, k.PageDown, k.Top, k.Bottom}, {k.Quit, k.ForceQuit, k.Help}},
	}
}

// View draws the page.
func (m *Model) View(w, h int) string {
	s := m.c.Styles
	iw := w - 2
	var top []string
	top = append(top, s.Title.Render("Plan")+s.Subtle.Render(" · "+m.p.Summary()))
	if m.p.Target != "" && !header.IsTwin(m.p.Target) {
		top = append(top, s.Warning.Render("This run changes "+m.p.Target+" for real."))
	}
	var bottom []string
	if m.saving {
		m.path.SetWidth(iw - 12)
		bottom = append(bottom, m.path.View())
	} else if m.status != "" {
		bottom = append(bottom, s.Subtle.Render(m.status))
	}
	vh := max(h-len(top)-len(bottom)-1, 3)
	if m.width != iw {
		m.width = iw
		m.vp.SetContent(planview.View(m.c, m.p, iw))
	}
	m.vp.SetWidth(iw)
	m.vp.SetHeight(vh)
	more := ""
	if !m.vp.AtBottom() {
		more = s.Subtle.Render(" · more below (↓/pgdn)")
	}
	top[0] += more
	parts := append(top, m.vp.View())
	parts = append(parts, bottom...)
	return lipgloss.NewStyle().PaddingLeft(1).Height(h).MaxHeight(h).Render(strings.Join(parts, "\n"))
}

// Restyle redraws with new styles.
func (m *Model) Restyle() { m.width = 0; m.path.SetStyles(m.c.Styles.TextInput()) }
