// Package picker is the form field of a parameter whose runbook names a lookup (`choices:`): a
// text input with the lookup's candidates listed under it, filtered by what is typed. ↑/↓ pick a
// candidate, enter takes the picked one — or, when none is picked, exactly what was typed, so an
// identifier the lookup did not find still works. Candidates that do not fit are listed with the
// reason and cannot be picked. While the lookup runs the field says so; when it fails the field is
// a plain input with the reason shown. The lookup itself runs outside the TUI (Deps.Lookup).
package picker

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// RunFunc runs a lookup (Deps.Lookup, bound to the wizard's context).
type RunFunc func(l runbooks.Lookup, in lookup.Inputs) lookup.Result

// ResultMsg carries a lookup's result to the field it was run for.
type ResultMsg struct {
	Key    string
	Inputs lookup.Inputs
	Result lookup.Result
}

type state int

const (
	loading state = iota
	ready
	failed
)

// Field is a huh field: a *huh.Input with the candidates under it.
type Field struct {
	*huh.Input
	value    *string
	key      string
	lookup   runbooks.Lookup
	run      RunFunc
	inputs   func() lookup.Inputs
	required bool

	state   state
	asked   lookup.Inputs // the inputs of the lookup last started
	choices []lookup.Choice
	failed  string
	cursor  int  // index into the shown candidates; -1: none picked (enter takes the typed text)
	typed   bool // the engineer typed here: the list is filtered by the text
	err     error
	focused bool

	theme huh.Theme
	dark  bool
	keys  huh.InputKeyMap
	width int
	rows  int
}

// New wraps in (built with .Key(key) and .Value(value)); inputs reads the other parameters' values
// the lookup depends on. A required field with no value starts with the first fitting candidate
// picked whenever they arrive.
func New(in *huh.Input, key string, value *string, l runbooks.Lookup, run RunFunc, inputs func() lookup.Inputs, required bool) *Field {
	return &Field{Input: in, key: key, value: value, lookup: l, run: run, inputs: inputs, required: required, cursor: -1, rows: 5, keys: huh.NewDefaultKeyMap().Input}
}

// Rows sets how many candidates are listed at most.
func (f *Field) Rows(n int) *Field { f.rows = max(n, 1); return f }

// Start runs the lookup for the current inputs.
func (f *Field) Start() tea.Cmd {
	in := f.inputs()
	f.asked, f.state, f.failed = in, loading, ""
	run, l, key := f.run, f.lookup, f.key
	return func() tea.Msg {
		return ResultMsg{Key: key, Inputs: in, Result: run(l, in)}
	}
}

// Focus focuses the input; it runs the lookup again when the values it depends on changed.
func (f *Field) Focus() tea.Cmd {
	f.focused = true
	cmd := f.Input.Focus()
	if f.inputs() != f.asked {
		cmd = tea.Batch(cmd, f.Start())
	}
	return cmd
}

// Blur leaves the field.
func (f *Field) Blur() tea.Cmd {
	f.focused, f.err = false, nil
	return f.Input.Blur()
}

// Error is the input's validation error, or why the picked candidate cannot be taken.
func (f *Field) Error() error {
	if f.err != nil {
		return f.err
	}
	return f.Input.Error()
}

// WithTheme keeps the theme for the list and passes it on.
func (f *Field) WithTheme(t huh.Theme) huh.Field {
	if f.theme == nil {
		f.theme = t
	}
	f.Input.WithTheme(t)
	return f
}

// WithKeyMap keeps the input's keys (enter and tab take the picked candidate) and passes them on.
func (f *Field) WithKeyMap(k *huh.KeyMap) huh.Field {
	f.keys = k.Input
	f.Input.WithKeyMap(k)
	return f
}

// WithWidth sets the width of the input and the list.
func (f *Field) WithWidth(w int) huh.Field {
	f.width = w
	f.Input.WithWidth(w)
	return f
}

// WithHeight passes the height on.
func (f *Field) WithHeight(h int) huh.Field { f.Input.WithHeight(h); return f }

// WithPosition passes the position on.
func (f *Field) WithPosition(p huh.FieldPosition) huh.Field { f.Input.WithPosition(p); return f }

var (
	up   = key.NewBinding(key.WithKeys("up", "ctrl+p"))
	down = key.NewBinding(key.WithKeys("down", "ctrl+n"))
)

// KeyBinds adds ↑/↓ to the input's keys.
func (f *Field) KeyBinds() []key.Binding {
	return append([]key.Binding{key.NewBinding(key.WithKeys("up", "down"), key.WithHelp("↑/↓", "pick"))}, f.Input.KeyBinds()...)
}

// Update handles the lookup's result, ↑/↓ and enter; everything else goes to the input.
func (f *Field) Update(msg tea.Msg) (huh.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.BackgroundColorMsg:
		f.dark = msg.IsDark()
	case ResultMsg:
		if msg.Key != f.key || msg.Inputs != f.asked {
			return f, nil
		}
		f.choices, f.failed, f.state = msg.Result.Choices, msg.Result.Failed, ready
		if f.failed != "" {
			f.state = failed
		}
		f.cursor = -1
		if f.required && *f.value == "" && len(f.choices) > 0 && f.choices[0].NotEligible == "" {
			f.cursor = 0
		}
		return f, nil
	case tea.KeyPressMsg:
		f.err = nil
		shown := f.shown()
		switch {
		case key.Matches(msg, up):
			f.cursor = max(f.cursor-1, -1)
			return f, nil
		case key.Matches(msg, down):
			f.cursor = min(f.cursor+1, len(shown)-1)
			return f, nil
		case key.Matches(msg, f.keys.Next, f.keys.Submit) && f.cursor >= 0 && f.cursor < len(shown):
			c := shown[f.cursor]
			if c.NotEligible != "" {
				f.err = fmt.Errorf("%s cannot be picked: %s", c.Value, c.NotEligible)
				return f, nil
			}
			*f.value = c.Value
			f.Input.Value(f.value)
			f.cursor, f.typed = -1, false
		}
	}
	before := *f.value
	m, cmd := f.Input.Update(msg)
	if in, ok := m.(*huh.Input); ok {
		f.Input = in
	}
	if *f.value != before { // typed, deleted or pasted: the list filters by the text, and enter takes it
		f.typed, f.cursor = true, -1
	}
	return f, cmd
}

// shown is the candidates the list holds: all of them, or, once the engineer typed, those whose
// value or description holds the text.
func (f *Field) shown() []lookup.Choice {
	q := strings.ToLower(strings.TrimSpace(*f.value))
	if !f.typed || q == "" {
		return f.choices
	}
	var out []lookup.Choice
	for _, c := range f.choices {
		if strings.Contains(strings.ToLower(c.Value), q) || strings.Contains(strings.ToLower(c.Detail), q) {
			out = append(out, c)
		}
	}
	return out
}

// View draws the input and, while focused, the list under it.
func (f *Field) View() string {
	in := f.Input.View()
	if !f.focused {
		return in
	}
	theme := f.theme
	if theme == nil {
		theme = huh.ThemeFunc(huh.ThemeCharm)
	}
	st := theme.Theme(f.dark).Focused
	inner := max(f.width-st.Base.GetHorizontalFrameSize(), 20)
	line := func(s string) string { return ansi.Truncate(s, inner, "…") }
	var lines []string
	switch f.state {
	case loading:
		lines = append(lines, st.Description.Render(line("looking up "+string(f.lookup)+"…  type a value meanwhile")))
	case failed:
		lines = append(lines, st.ErrorMessage.UnsetString().Width(inner).Render("could not list "+string(f.lookup)+": "+f.failed),
			st.Description.Render(line("type the value")))
	default:
		lines = f.list(st, inner, line)
	}
	return in + "\n" + st.Base.Width(f.width).Render(strings.Join(lines, "\n"))
}

func (f *Field) list(st huh.FieldStyles, inner int, line func(string) string) []string {
	shown := f.shown()
	if len(f.choices) == 0 {
		return []string{st.Description.Render(line("no " + string(f.lookup) + " found — type the value"))}
	}
	hint := "enter takes the picked line (↑/↓), else what you typed"
	if len(shown) == 0 {
		return []string{st.Description.Render(line("none of " + string(f.lookup) + " matches — enter takes what you typed"))}
	}
	nameW := 0
	for _, c := range shown {
		nameW = max(nameW, lipgloss.Width(c.Value))
	}
	nameW = min(nameW, inner/2)
	first := max(0, min(f.cursor-f.rows+1, len(shown)-f.rows))
	out := []string{st.Description.Render(line(hint))}
	for i := first; i < min(first+f.rows, len(shown)); i++ {
		c := shown[i]
		mark := "  "
		name := st.Option
		if i == f.cursor {
			mark, name = "> ", st.SelectedOption
		}
		detail := c.Detail
		if c.NotEligible != "" {
			detail = "not eligible: " + c.NotEligible
		}
		v := ansi.Truncate(c.Value, nameW, "…")
		text := line(mark + v + strings.Repeat(" ", nameW-lipgloss.Width(v)) + "  " + detail)
		head := min(len(mark)+nameW, lipgloss.Width(text))
		if c.NotEligible != "" {
			out = append(out, st.Description.Render(text))
			continue
		}
		out = append(out, name.Render(ansi.Cut(text, 0, head))+st.Description.Render(ansi.Cut(text, head, lipgloss.Width(text))))
	}
	if more := len(shown) - min(first+f.rows, len(shown)); more > 0 {
		out = append(out, st.Description.Render(line(fmt.Sprintf("  … %d more (type to filter)", more))))
	}
	return out
}
