// Package logpane is the live output of a step: a viewport that follows new lines until the
// engineer scrolls back, and follows again when they go to the bottom.
package logpane

import (
	"strings"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/tui/common"
)

// MaxLines is how many lines the pane keeps; older ones are dropped (the journal has them all).
const MaxLines = 5000

// Model is the pane.
type Model struct {
	c      *common.Common
	vp     viewport.Model
	lines  []string
	follow bool
	dirty  bool
	// wrapped holds lines wrapped to wrapW, built incrementally: the viewport's own soft wrap
	// re-measures every line on every key.
	wrapped []string
	wrapN   int // how many of lines are in wrapped
	wrapW   int
}

// New returns an empty pane that follows.
func New(c *common.Common) *Model {
	vp := viewport.New(viewport.WithWidth(40), viewport.WithHeight(5))
	vp.KeyMap = viewport.KeyMap{} // keys are routed explicitly by Update
	return &Model{c: c, vp: vp, follow: true}
}

// SetSize sizes the pane (including its one-line rule).
func (m *Model) SetSize(w, h int) {
	h = max(h-1, 1)
	if w == m.vp.Width() && h == m.vp.Height() {
		return
	}
	m.vp.SetWidth(w)
	m.vp.SetHeight(h)
	m.dirty = true
}

// Reset empties the pane (a new step) and follows again.
func (m *Model) Reset() {
	m.lines, m.wrapped, m.wrapN = m.lines[:0], m.wrapped[:0], 0
	m.follow, m.dirty = true, true
}

// Append adds lines.
func (m *Model) Append(lines ...string) {
	for _, l := range lines {
		m.lines = append(m.lines, strings.ReplaceAll(ansi.Strip(l), "\t", "    "))
	}
	if over := len(m.lines) - MaxLines; over > 0 {
		m.lines = append(m.lines[:0], m.lines[over:]...)
		m.wrapN = 0 // rewrap
	}
	m.dirty = true
}

// Lines is how many lines the pane holds.
func (m *Model) Lines() int { return len(m.lines) }

// Following reports whether the pane sticks to the newest line.
func (m *Model) Following() bool { return m.follow }

func (m *Model) sync() {
	if !m.dirty {
		return
	}
	m.dirty = false
	if w := m.vp.Width(); w != m.wrapW || m.wrapN > len(m.lines) {
		m.wrapW, m.wrapN = w, 0
	}
	if m.wrapN == 0 {
		m.wrapped = m.wrapped[:0]
	}
	for _, l := range m.lines[m.wrapN:] {
		if ansi.StringWidth(l) <= m.wrapW || m.wrapW < 1 {
			m.wrapped = append(m.wrapped, l)
			continue
		}
		m.wrapped = append(m.wrapped, strings.Split(ansi.Hardwrap(l, m.wrapW, true), "\n")...)
	}
	m.wrapN = len(m.lines)
	m.vp.SetContentLines(m.wrapped)
	if m.follow {
		m.vp.GotoBottom()
	}
}

// Update scrolls on the pane's keys; it reports whether the key was used.
func (m *Model) Update(msg tea.KeyPressMsg) bool {
	m.sync()
	if !m.c.Keys.Scroll(&m.vp, msg) {
		return false
	}
	m.follow = m.vp.AtBottom()
	return true
}

// View draws a rule saying what the pane holds, then the lines.
func (m *Model) View() string {
	m.sync()
	s := m.c.Styles
	label := " output "
	switch {
	case len(m.lines) == 0:
		label += "(none yet) "
	case m.follow:
		label += "· following "
	default:
		label += "· scrolled back, G to follow "
	}
	rule := "──" + label
	rule += strings.Repeat("─", max(0, m.vp.Width()-ansi.StringWidth(rule)))
	return s.Rule.Render(rule) + "\n" + m.vp.View()
}
