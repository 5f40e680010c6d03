package logpane

import (
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/tui/common"
)

func TestFollowsUntilScrolledBack(t *testing.T) {
	m := New(common.New(nil))
	m.SetSize(40, 10)
	for i := range 100 {
		m.Append(fmt.Sprint("line ", i))
	}
	m.View()
	if !m.Following() {
		t.Fatal("a new pane does not follow")
	}
	m.Update(tea.KeyPressMsg{Code: tea.KeyPgUp})
	if m.Following() {
		t.Fatal("still following after scrolling back")
	}
	m.Append("line 100")
	if v := m.View(); contains(v, "line 100") {
		t.Fatal("a scrolled-back pane jumped to the new line")
	}
	m.Update(tea.KeyPressMsg{Code: 'G', Text: "G"})
	if !m.Following() || !contains(m.View(), "line 100") {
		t.Fatal("G does not follow again")
	}
}

func TestKeepsMaxLines(t *testing.T) {
	m := New(common.New(nil))
	for i := range MaxLines + 10 {
		m.Append(fmt.Sprint(i))
	}
	if m.Lines() != MaxLines {
		t.Fatalf("lines = %d", m.Lines())
	}
}

func contains(s, sub string) bool {
	return len(sub) == 0 || (len(s) >= len(sub) && (s[:len(sub)] == sub || contains(s[1:], sub)))
}
