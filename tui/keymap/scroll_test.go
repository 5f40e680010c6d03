package keymap

import (
	"fmt"
	"testing"

	"charm.land/bubbles/v2/viewport"
	tea "charm.land/bubbletea/v2"
)

// The scroll keys move a pane a line, a page, to the top and to the bottom; any other key is left
// to the caller.
func TestScroll(t *testing.T) {
	k := Default()
	vp := viewport.New(viewport.WithWidth(20), viewport.WithHeight(10))
	var lines []string
	for i := range 100 {
		lines = append(lines, fmt.Sprint(i))
	}
	vp.SetContentLines(lines)
	steps := []struct {
		key  tea.KeyPressMsg
		want int
	}{
		{tea.KeyPressMsg{Code: 'j', Text: "j"}, 1},
		{tea.KeyPressMsg{Code: tea.KeyDown}, 2},
		{tea.KeyPressMsg{Code: 'k', Text: "k"}, 1},
		{tea.KeyPressMsg{Code: tea.KeyPgDown}, 11},
		{tea.KeyPressMsg{Code: tea.KeyPgUp}, 1},
		{tea.KeyPressMsg{Code: 'G', Text: "G"}, 90},
		{tea.KeyPressMsg{Code: 'g', Text: "g"}, 0},
	}
	for _, s := range steps {
		if !k.Scroll(&vp, s.key) {
			t.Fatalf("%q is a scroll key", s.key.String())
		}
		if got := vp.YOffset(); got != s.want {
			t.Fatalf("after %q: offset %d, want %d", s.key.String(), got, s.want)
		}
	}
	if k.Scroll(&vp, tea.KeyPressMsg{Code: 's', Text: "s"}) || vp.YOffset() != 0 {
		t.Fatal("a key that is not a scroll key scrolled")
	}
}
