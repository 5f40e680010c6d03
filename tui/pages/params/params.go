// Package params is the Parameters screen: a Huh form generated from the runbook's parameter
// schema — enums as selects, bools as confirms, everything else as an input validated inline with
// runbooks.CheckValue; secrets masked and never shown again; -p values prefilled. A parameter whose
// runbook names a lookup (`choices:`) is a picker: the input with the lookup's candidates under it.
package params

import (
	"errors"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/header"
	"github.com/cairn-runbooks/cairn/tui/components/picker"
	"github.com/cairn-runbooks/cairn/tui/keymap"
)

// Model is the page.
type Model struct {
	c      *common.Common
	rb     *runbooks.Runbook
	target string
	form   *huh.Form
	strs   map[string]*string // inputs and selects, by parameter name (heap pointers: stable)
	bools  map[string]*bool
	err    string
	done   bool
	// run runs a lookup (nil: every parameter is a plain input); pickers are the fields it feeds.
	run     picker.RunFunc
	pickers []*picker.Field
}

// New builds the form; prefill holds -p values; run runs the parameters' lookups (nil: none).
func New(c *common.Common, rb *runbooks.Runbook, prefill map[string]string, target string, run picker.RunFunc) *Model {
	m := &Model{c: c, rb: rb, target: target, strs: map[string]*string{}, bools: map[string]*bool{}, run: run}
	for _, p := range rb.Parameters {
		v, given := prefill[p.Name]
		if !given && !p.Secret && !derived(p) {
			v = p.Default.Raw
		}
		if p.Type == runbooks.TBool {
			b, _ := ref.ParseBool(v)
			m.bools[p.Name] = &b
			continue
		}
		if p.Secret {
			v = "" // never from a flag
		}
		if p.Type == runbooks.TEnum && v == "" && len(p.Values) > 0 {
			v = p.Values[0]
		}
		m.strs[p.Name] = &v
	}
	m.build()
	return m
}

// derived reports a default computed from other values ("${params.instance}-enc").
func derived(p *runbooks.Param) bool { return strings.Contains(p.Default.Raw, "${") }

func (m *Model) build() {
	var fields []huh.Field
	m.pickers = nil
	for _, p := range m.rb.Parameters {
		title := p.Name
		if p.Required {
			title += " *"
		}
		desc := p.Help
		switch p.Type {
		case runbooks.TBool:
			fields = append(fields, huh.NewConfirm().Key(p.Name).Title(title).Description(desc).
				Affirmative("true").Negative("false").Value(m.bools[p.Name]))
			continue
		case runbooks.TEnum:
			fields = append(fields, huh.NewSelect[string]().Key(p.Name).Title(title).Description(desc).
				Options(huh.NewOptions(p.Values...)...).Inline(true).Value(m.strs[p.Name]))
			continue
		}
		in := huh.NewInput().Key(p.Name).Title(title).Value(m.strs[p.Name]).Validate(validator(p))
		hint := string(p.Type)
		if p.Type == "" {
			hint = "string"
		}
		switch {
		case p.Secret:
			in = in.EchoMode(huh.EchoModePassword)
			hint = "secret: masked, never shown again"
		case derived(p):
			in = in.Placeholder("(empty: derived)")
			hint += " · empty: " + p.Default.Raw
		case p.Pattern != "":
			hint += " · " + p.Pattern
		}
		if desc != "" {
			desc += " (" + hint + ")"
		} else {
			desc = hint
		}
		in = in.Description(desc)
		if p.Choices != runbooks.LookupNone && m.run != nil {
			pk := picker.New(in, p.Name, m.strs[p.Name], p.Choices, m.run, m.lookupInputs, p.Required && p.Default.IsZero()).
				Rows(max(3, min(8, (m.c.Height-16)/2)))
			m.pickers = append(m.pickers, pk)
			fields = append(fields, pk)
			continue
		}
		fields = append(fields, in)
	}
	if len(fields) == 0 {
		fields = append(fields, huh.NewNote().Title("No parameters").Description("This runbook takes no parameters. enter to plan it.").Next(true).NextLabel("Plan"))
	}
	m.form = huh.NewForm(huh.NewGroup(fields...)).WithShowHelp(false).WithTheme(m.c.Styles.Form()).
		WithWidth(max(m.c.Width-4, 20)).WithHeight(max(m.c.Height-header.Height-4, 5))
}

// lookupInputs are the values typed so far that lookups read (region, conn).
func (m *Model) lookupInputs() lookup.Inputs { return lookup.InputsOf(m.Given()) }

func validator(p *runbooks.Param) func(string) error {
	return func(s string) error {
		if s == "" {
			if p.Required && p.Default.IsZero() && !p.Secret {
				return errors.New(p.Name + " is required")
			}
			if p.Required && p.Secret {
				return errors.New(p.Name + " is required (typed here, masked)")
			}
			return nil
		}
		return runbooks.CheckValue(p, s)
	}
}

// Runbook is the runbook the form is for.
func (m *Model) Runbook() *runbooks.Runbook { return m.rb }

// Form is the Huh form (tests inspect its state).
func (m *Model) Form() *huh.Form { return m.form }

// SetError shows why the values could not be used and reopens the form with them.
func (m *Model) SetError(err error) {
	m.err = err.Error()
	m.done = false
	m.build()
}

// Init focuses the form; a runbook without parameters goes straight on.
func (m *Model) Init() tea.Cmd {
	if len(m.rb.Parameters) == 0 && m.err == "" {
		m.done = true
		return m.doneCmd()
	}
	var cmds []tea.Cmd
	for _, pk := range m.pickers {
		cmds = append(cmds, pk.Start())
	}
	return tea.Batch(append(cmds, m.form.Init())...)
}

// Capturing: the form always takes text.
func (m *Model) Capturing() bool { return true }

// Given is what the engineer entered: empty inputs are left out so defaults apply.
func (m *Model) Given() map[string]string {
	out := map[string]string{}
	for _, p := range m.rb.Parameters {
		if b, ok := m.bools[p.Name]; ok {
			out[p.Name] = strconv.FormatBool(*b)
			continue
		}
		if v := *m.strs[p.Name]; v != "" {
			out[p.Name] = v
		}
	}
	return out
}

func (m *Model) doneCmd() tea.Cmd {
	rb, given := m.rb, m.Given()
	return func() tea.Msg { return common.ParamsDoneMsg{Runbook: rb, Given: given} }
}

// Update handles a message.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	if m.done {
		return nil
	}
	if kp, ok := msg.(tea.KeyPressMsg); ok {
		switch {
		case key.Matches(kp, m.c.Keys.ForceQuit):
			return func() tea.Msg { return common.QuitMsg{} }
		case key.Matches(kp, m.c.Keys.Back):
			return func() tea.Msg { return common.BackMsg{} }
		}
	}
	if ws, ok := msg.(tea.WindowSizeMsg); ok {
		m.form.WithWidth(max(ws.Width-4, 20)).WithHeight(max(ws.Height-header.Height-4, 5))
	}
	fm, cmd := m.form.Update(msg)
	if f, ok := fm.(*huh.Form); ok {
		m.form = f
	}
	switch m.form.State {
	case huh.StateCompleted:
		m.done = true
		m.err = ""
		return tea.Batch(cmd, m.doneCmd())
	case huh.StateAborted:
		return func() tea.Msg { return common.QuitMsg{} }
	}
	return cmd
}

// Header is what the header shows.
func (m *Model) Header() header.Info {
	return header.Info{Page: "parameters", Runbook: m.rb.Name, Target: m.target}
}

// Help is the footer's keys.
func (m *Model) Help() keymap.Help {
	k := m.c.Keys
	next := key.NewBinding(key.WithKeys("enter", "tab"), key.WithHelp("enter/tab", "next"))
	prev := key.NewBinding(key.WithKeys("shift+tab"), key.WithHelp("shift+tab", "previous"))
	short := []key.Binding{next, prev, k.Back, k.ForceQuit}
	if _, ok := m.form.GetFocusedField().(*picker.Field); ok {
		short = append([]key.Binding{key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "pick"))}, short...)
	}
	return keymap.Help{Short: short}
}

// View draws the page.
func (m *Model) View(w, h int) string {
	s := m.c.Styles
	head := s.Title.Render("Parameters") + s.Subtle.Render(" · "+m.rb.Name+" · * required")
	parts := []string{head}
	if m.err != "" {
		parts = append(parts, s.ErrorText.Render(lipgloss.NewStyle().Width(w-4).Render(m.err)))
	}
	parts = append(parts, m.form.View())
	return lipgloss.NewStyle().PaddingLeft(1).Height(h).MaxHeight(h).Render(strings.Join(parts, "\n"))
}
