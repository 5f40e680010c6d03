package run

import (
	"fmt"
	"strings"

	"charm.land/glamour/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/tui/common"
)

// stepNotes renders a step's notes (Markdown) with Glamour at a fixed width, once per step and
// width, and keeps one renderer per style and width; plain wrapped text when Glamour fails.
type stepNotes struct {
	c     *common.Common
	cache map[string]string // rendered notes by step id + width
	md    *glamour.TermRenderer
	mdKey string
}

func newStepNotes(c *common.Common) *stepNotes {
	return &stepNotes{c: c, cache: map[string]string{}}
}

// reset forgets what was rendered (a new run; the background turned out light or dark).
func (n *stepNotes) reset() {
	n.cache = map[string]string{}
	n.md = nil
}

func (n *stepNotes) render(id, md string, w int) string {
	key := fmt.Sprintf("%s@%d", id, w)
	if r, ok := n.cache[key]; ok {
		return r
	}
	out, err := n.renderer(w)
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
	n.cache[key] = r
	return r
}

func (n *stepNotes) renderer(w int) (*glamour.TermRenderer, error) {
	style := "light"
	if n.c.Styles.IsDark {
		style = "dark"
	}
	k := fmt.Sprintf("%s@%d", style, w)
	if n.md != nil && n.mdKey == k {
		return n.md, nil
	}
	r, err := glamour.NewTermRenderer(glamour.WithStandardStyle(style), glamour.WithWordWrap(w-4))
	if err != nil {
		return nil, err
	}
	n.md, n.mdKey = r, k
	return r, nil
}
