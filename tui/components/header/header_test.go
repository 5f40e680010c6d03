package header

import (
	"strings"
	"testing"

	"charm.land/bubbles/v2/key"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/keymap"
)

// A footer with more keys than an 80-column terminal holds stays on its one line, inside the
// edge, and keeps quit and all keys; one that fits is left whole.
func TestFooterFitsTheWidth(t *testing.T) {
	c := common.New(nil)
	k := c.Keys
	h := NewHelp(c)
	many := keymap.Help{Short: []key.Binding{k.Yes, k.No, k.Submit, k.PageUp, k.PageDown, k.Follow, k.Timeline, k.Note, k.Quit, k.Help}}
	got := ansi.Strip(Footer(c, &h, many, 80))
	if strings.Contains(got, "\n") || ansi.StringWidth(got) > 80 || !strings.Contains(got, "q quit • ? all keys") || !strings.Contains(got, "…") {
		t.Fatalf("footer at 80 columns (%d wide): %q", ansi.StringWidth(got), got)
	}
	few := keymap.Help{Short: []key.Binding{k.Yes, k.No, k.Quit, k.Help}}
	if got := ansi.Strip(Footer(c, &h, few, 80)); strings.Contains(got, "…") || !strings.Contains(got, "y yes • n no • q quit • ? all keys") {
		t.Fatalf("a footer that fits was cut: %q", got)
	}
}
