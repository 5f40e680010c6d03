package run

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/tui/common"
)

// noteBox is the one line an engineer types into the run's journal (n): open, typed, then written
// (enter) or dropped (esc).
type noteBox struct {
	c    *common.Common
	open bool
	in   textinput.Model
}

func newNoteBox(c *common.Common) *noteBox {
	in := textinput.New()
	in.SetStyles(c.Styles.TextInput())
	in.Prompt = "note › "
	in.CharLimit = 500
	return &noteBox{c: c, in: in}
}

// start opens the box.
func (b *noteBox) start() tea.Cmd {
	b.open = true
	return b.in.Focus()
}

// key takes a key while the box is open; text is the note to write once it is submitted ("" for
// none).
func (b *noteBox) key(msg tea.KeyPressMsg) (text string, cmd tea.Cmd) {
	k := b.c.Keys
	switch {
	case key.Matches(msg, k.Cancel):
		b.open = false
		b.in.Reset()
	case key.Matches(msg, k.Submit):
		text = strings.TrimSpace(b.in.Value())
		b.open = false
		b.in.Reset()
	default:
		b.in, cmd = b.in.Update(msg)
	}
	return text, cmd
}

func (b *noteBox) view(w int) string {
	b.in.SetWidth(w - 10)
	return b.in.View()
}

func (b *noteBox) restyle() { b.in.SetStyles(b.c.Styles.TextInput()) }
