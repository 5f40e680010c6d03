package run

// The page's keys: what each does in each state, and the footer that says so.

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/steplist"
	"github.com/cairn-runbooks/cairn/tui/keymap"
)

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
			m.noteBox.open = false
			return nil
		}
		return func() tea.Msg { return common.QuitMsg{Message: m.LeaveMessage()} }
	}
	if m.noteBox.open {
		text, cmd := m.noteBox.key(msg)
		if text != "" {
			return note(m.cfg.Ctx, m.cfg.Source, text)
		}
		return cmd
	}
	promptLive := m.prompt != nil && !m.cfg.ReadOnly && m.sent == "" && m.prompt.Q.Kind != events.AskApproval
	if promptLive && m.prompt.Capturing() {
		return m.answerWith(msg)
	}
	switch {
	case key.Matches(msg, k.PageUp, k.PageDown):
		m.out.pane.Update(msg)
		return nil
	case key.Matches(msg, k.Top):
		m.move(-len(m.rs.Steps))
		m.showFocus()
		return nil
	case key.Matches(msg, k.Bottom):
		m.follow()
		m.showFocus()
		m.out.pane.Update(msg) // and its output followed
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
		return m.noteBox.start()
	}
	switch {
	case key.Matches(msg, k.Up):
		m.move(-1)
		m.showFocus()
		return nil
	case key.Matches(msg, k.Down):
		m.move(1)
		m.showFocus()
		return nil
	}
	m.out.pane.Update(msg)
	return nil
}

// Help is the footer's keys.
func (m *Model) Help() keymap.Help {
	k := m.c.Keys
	switch {
	case m.quitting:
		return keymap.Help{Short: []key.Binding{k.Yes, k.No}}
	case m.noteBox.open:
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
