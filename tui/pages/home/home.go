// Package home is the first screen: the runbooks (filterable, with their purpose, step count and
// whether a rehearsal timing exists) and the unfinished runs, each with a resume action.
package home

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/header"
	"github.com/cairn-runbooks/cairn/tui/keymap"
)

// Run is an unfinished run as listed.
type Run struct {
	ID, Runbook, Status, Current string
	Started                      time.Time
}

// Config is what Home lists.
type Config struct {
	Runbooks []*runbooks.Runbook
	Timed    func(runbook string) bool // a rehearsal timing exists
	Runs     []Run
	RunsErr  error
	Target   string
}

// Model is the page.
type Model struct {
	c         *common.Common
	cfg       Config
	shown     []*runbooks.Runbook
	cursor    int
	onRuns    bool
	runCursor int
	filtering bool
	filter    textinput.Model
}

// New builds the page.
func New(c *common.Common, cfg Config) *Model {
	m := &Model{c: c, cfg: cfg}
	m.filter = textinput.New()
	m.filter.Prompt = "filter › "
	m.filter.SetStyles(c.Styles.TextInput())
	m.apply()
	return m
}

func (m *Model) apply() {
	q := strings.ToLower(strings.TrimSpace(m.filter.Value()))
	m.shown = m.shown[:0]
	for _, rb := range m.cfg.Runbooks {
		if q == "" || strings.Contains(strings.ToLower(rb.Name+" "+rb.Title+" "+rb.Description), q) {
			m.shown = append(m.shown, rb)
		}
	}
	m.cursor = min(m.cursor, max(len(m.shown)-1, 0))
}

// Init does nothing.
func (m *Model) Init() tea.Cmd { return nil }

// Capturing reports whether the filter has the keys.
func (m *Model) Capturing() bool { return m.filtering }

// Selected is the runbook under the cursor, or nil.
func (m *Model) Selected() *runbooks.Runbook {
	if m.onRuns || len(m.shown) == 0 {
		return nil
	}
	return m.shown[m.cursor]
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	kp, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return nil
	}
	k := m.c.Keys
	if m.filtering {
		switch {
		case key.Matches(kp, k.Cancel):
			m.filtering = false
			m.filter.Reset()
			m.filter.Blur()
			m.apply()
		case key.Matches(kp, k.Enter):
			m.filtering = false
			m.filter.Blur()
		default:
			var cmd tea.Cmd
			m.filter, cmd = m.filter.Update(kp)
			m.apply()
			return cmd
		}
		return nil
	}
	switch {
	case key.Matches(kp, k.Quit, k.ForceQuit):
		return func() tea.Msg { return common.QuitMsg{} }
	case key.Matches(kp, k.Filter):
		m.filtering, m.onRuns = true, false
		return m.filter.Focus()
	case key.Matches(kp, k.Tab):
		if len(m.cfg.Runs) > 0 {
			m.onRuns = !m.onRuns
		}
	case key.Matches(kp, k.Up):
		if m.onRuns {
			m.runCursor = max(0, m.runCursor-1)
		} else {
			m.cursor = max(0, m.cursor-1)
		}
	case key.Matches(kp, k.Down):
		if m.onRuns {
			m.runCursor = min(len(m.cfg.Runs)-1, m.runCursor+1)
		} else {
			m.cursor = min(max(len(m.shown)-1, 0), m.cursor+1)
		}
	case key.Matches(kp, k.Resume) && len(m.cfg.Runs) > 0:
		if !m.onRuns {
			m.onRuns = true
			return nil
		}
		return m.attach()
	case key.Matches(kp, k.Enter):
		if m.onRuns {
			return m.attach()
		}
		if rb := m.Selected(); rb != nil {
			return func() tea.Msg { return common.ChooseRunbookMsg{Runbook: rb} }
		}
	}
	return nil
}

func (m *Model) attach() tea.Cmd {
	id := m.cfg.Runs[m.runCursor].ID
	return func() tea.Msg { return common.AttachRunMsg{RunID: id} }
}

// Header is what the header shows.
func (m *Model) Header() header.Info {
	return header.Info{Page: "runbooks", Target: m.cfg.Target, Hint: "fill parameters, review the plan: nothing runs until you start it"}
}

// Help is the footer's keys.
func (m *Model) Help() keymap.Help {
	k := m.c.Keys
	if m.filtering {
		return keymap.Help{Short: []key.Binding{k.Enter, k.Cancel}}
	}
	short := []key.Binding{k.Up, k.Down, k.Enter, k.Filter}
	if len(m.cfg.Runs) > 0 {
		short = append(short, k.Tab, k.Resume)
	}
	short = append(short, k.Quit, k.Help)
	return keymap.Help{Short: short, Full: [][]key.Binding{{k.Up, k.Down, k.Enter}, {k.Filter, k.Tab, k.Resume}, {k.Quit, k.ForceQuit, k.Help}}}
}

// View draws the page in w×h.
func (m *Model) View(w, h int) string {
	s := m.c.Styles
	iw := w - 2
	var runs []string
	if len(m.cfg.Runs) > 0 || m.cfg.RunsErr != nil {
		runs = append(runs, s.Title.Render("Unfinished runs"))
		if m.cfg.RunsErr != nil {
			runs = append(runs, s.Subtle.Render(ansi.Truncate("could not list runs: "+m.cfg.RunsErr.Error(), iw, "…")))
		}
		for i, r := range m.cfg.Runs {
			line := fmt.Sprintf("%s · %s · %s", r.ID, r.Runbook, r.Status)
			if r.Current != "" {
				line += " at " + r.Current
			}
			if !r.Started.IsZero() {
				line += " · started " + r.Started.Local().Format("Jan 2 15:04")
			}
			runs = append(runs, m.row(line, "", m.onRuns && i == m.runCursor, iw, ""))
		}
		runs = append(runs, "")
	}
	var top []string
	title := s.Title.Render("Runbooks")
	if m.filtering || m.filter.Value() != "" {
		title += "  " + m.filter.View()
	} else {
		title += s.Subtle.Render(fmt.Sprintf("  %d · / to filter", len(m.cfg.Runbooks)))
	}
	top = append(top, title)
	room := max(h-len(runs)-len(top), 2)
	perItem := 3
	vis := max(room/perItem, 1)
	first := 0
	if m.cursor >= vis {
		first = m.cursor - vis + 1
	}
	var items []string
	if len(m.shown) == 0 {
		items = append(items, s.Subtle.Render("  no runbook matches"))
	}
	for i := first; i < len(m.shown) && i < first+vis; i++ {
		rb := m.shown[i]
		desc := firstLine(rb.Description)
		meta := common.Plural(len(rb.Steps), "step") + " · "
		if m.cfg.Timed != nil && m.cfg.Timed(rb.Name) {
			meta += "rehearsed ✓"
		} else {
			meta += "not rehearsed"
		}
		head := rb.Name
		if rb.Title != "" {
			head += " — " + rb.Title
		}
		head = ansi.Truncate(head, iw-4-len([]rune(meta)), "…")
		head += strings.Repeat(" ", max(1, iw-2-ansi.StringWidth(head)-ansi.StringWidth(meta)))
		items = append(items, m.row(head, desc, !m.onRuns && i == m.cursor, iw, meta), "")
	}
	body := strings.Join(append(append(runs, top...), items...), "\n")
	return lipgloss.NewStyle().PaddingLeft(1).Height(h).MaxHeight(h).Render(body)
}

func (m *Model) row(head, sub string, focused bool, w int, meta string) string {
	s := m.c.Styles
	mark := "  "
	head = ansi.Truncate(head, w-2, "…")
	if focused {
		mark = s.Current.Render("› ")
		head = s.Current.Render(head)
	} else {
		head = s.Bold.Render(head)
	}
	out := mark + head + s.Subtle.Render(meta)
	if sub != "" {
		out += "\n  " + s.Subtle.Render(ansi.Truncate(sub, w-2, "…"))
	}
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
