// Package keymap holds every key binding the TUI answers to, with its help text. Pages choose which
// bindings are live and show them through Help. No mouse is needed for anything.
package keymap

import "charm.land/bubbles/v2/key"

// KeyMap is all bindings.
type KeyMap struct {
	Up, Down, PageUp, PageDown, Top, Bottom key.Binding
	Enter, Back, Tab, Filter, Help          key.Binding
	Quit, ForceQuit                         key.Binding

	// Home.
	Resume key.Binding
	// Plan.
	Start, Save, OffPath key.Binding
	// Run.
	Follow, Note, Timeline key.Binding
	// Prompts.
	Yes, No, Toggle, Submit, Cancel key.Binding
}

// Default returns the key map.
func Default() *KeyMap {
	return &KeyMap{
		Up:        key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		PageUp:    key.NewBinding(key.WithKeys("pgup", "b"), key.WithHelp("pgup", "page up")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown", "f"), key.WithHelp("pgdn", "page down")),
		Top:       key.NewBinding(key.WithKeys("home", "g"), key.WithHelp("g", "top")),
		Bottom:    key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "bottom")),
		Enter:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "choose")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Tab:       key.NewBinding(key.WithKeys("tab"), key.WithHelp("tab", "runbooks/runs")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "all keys")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),

		Resume:   key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "resume run")),
		Start:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "start the run")),
		Save:     key.NewBinding(key.WithKeys("m"), key.WithHelp("m", "save as Markdown")),
		OffPath:  key.NewBinding(key.WithKeys("o"), key.WithHelp("o", "steps not on this path")),
		Follow:   key.NewBinding(key.WithKeys("end", "G"), key.WithHelp("G", "follow output")),
		Note:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "add a note")),
		Timeline: key.NewBinding(key.WithKeys("t"), key.WithHelp("t", "timeline")),

		Yes:    key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "yes")),
		No:     key.NewBinding(key.WithKeys("n"), key.WithHelp("n", "no")),
		Toggle: key.NewBinding(key.WithKeys("space", "x"), key.WithHelp("space", "tick")),
		Submit: key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "answer")),
		Cancel: key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// Help is a help.KeyMap made of chosen bindings.
type Help struct {
	Short []key.Binding
	Full  [][]key.Binding
}

// ShortHelp implements help.KeyMap.
func (h Help) ShortHelp() []key.Binding { return h.Short }

// FullHelp implements help.KeyMap.
func (h Help) FullHelp() [][]key.Binding {
	if len(h.Full) == 0 {
		return [][]key.Binding{h.Short}
	}
	return h.Full
}
