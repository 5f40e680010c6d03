// Package tui is cairn's terminal wizard: Home → Parameters → Plan → Run, built with Bubble Tea v2,
// Bubbles v2, Lip Gloss v2, Huh v2 and Glamour v2. It only draws the runner's records and answers
// its questions through Deps; it holds no domain logic.
//
// Layout follows soft-serve: common (shared context), styles (the only place styles are built),
// keymap, components (steplist, logpane, planview, header, prompt, timeline) and pages (home, params, plan,
// run).
package tui

import (
	"context"
	"strings"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/header"
	"github.com/cairn-runbooks/cairn/tui/components/picker"
	"github.com/cairn-runbooks/cairn/tui/components/planview"
	"github.com/cairn-runbooks/cairn/tui/keymap"
	"github.com/cairn-runbooks/cairn/tui/pages/home"
	"github.com/cairn-runbooks/cairn/tui/pages/params"
	"github.com/cairn-runbooks/cairn/tui/pages/plan"
	"github.com/cairn-runbooks/cairn/tui/pages/run"
	"github.com/cairn-runbooks/cairn/tui/styles"
)

// Option changes how the TUI opens.
type Option func(*options)

type options struct {
	altScreen bool
	static    bool
	ctx       context.Context
	runbook   *runbooks.Runbook
	start     StartOptions
}

// WithAltScreen turns the alternate screen on (the default) or off (tests, scrollback lovers).
func WithAltScreen(on bool) Option { return func(o *options) { o.altScreen = on } }

// WithoutAnimation draws the spinner as a still glyph.
func WithoutAnimation() Option { return func(o *options) { o.static = true } }

// WithContext is the context Start, Attach, Answer and Note get (default: context.Background()).
func WithContext(ctx context.Context) Option { return func(o *options) { o.ctx = ctx } }

// WithRunbook opens on the Parameters page of rb (cairn run <runbook> on a terminal).
func WithRunbook(rb *runbooks.Runbook) Option { return func(o *options) { o.runbook = rb } }

// WithStartOptions sets what Start is given (--rehearsal, --approvals). A zero WindowEnd takes
// Deps.WindowEnd.
func WithStartOptions(so StartOptions) Option { return func(o *options) { o.start = so } }

type page interface {
	Init() tea.Cmd
	Update(tea.Msg) tea.Cmd
	View(w, h int) string
	Header() header.Info
	Help() keymap.Help
	Capturing() bool
}

type restyler interface{ Restyle() }

// Model is the root model.
type Model struct {
	d    Deps
	o    options
	c    *common.Common
	help *help.Model
	st   *state
}

// state is what changes between Updates (the Model is copied by value; this is shared).
type state struct {
	page    page
	history []page
	leave   string
	busy    string
}

type planReadyMsg struct {
	rb    *runbooks.Runbook
	vals  runbooks.Values
	steps []events.StepInfo
	err   error
}

type runReadyMsg struct {
	src RunSource
	err error
}

// New returns the wizard, opening on Home (or on Parameters with WithRunbook).
func New(d Deps, opts ...Option) Model {
	m := newModel(d, opts)
	if m.o.runbook != nil {
		m.st.page = m.paramsPage(m.o.runbook, d.Prefill)
	} else {
		m.st.page = m.home()
	}
	return m
}

// NewRunView opens straight on the Run screen (cairn attach / follow / run with every parameter given).
func NewRunView(d Deps, src RunSource, opts ...Option) Model {
	m := newModel(d, opts)
	m.st.page = m.runPage(src)
	return m
}

// paramsPage is the form for rb, its lookups run through Deps.Lookup under the wizard's context.
func (m Model) paramsPage(rb *runbooks.Runbook, prefill map[string]string) *params.Model {
	var run picker.RunFunc
	if d, ctx := m.d, m.o.ctx; d.Lookup != nil {
		run = func(l runbooks.Lookup, in lookup.Inputs) lookup.Result { return d.Lookup(ctx, l, in) }
	}
	return params.New(m.c, rb, prefill, m.d.Target, run)
}

func newModel(d Deps, opts []Option) Model {
	o := options{altScreen: true, ctx: context.Background()}
	for _, f := range opts {
		f(&o)
	}
	if o.start.WindowEnd.IsZero() {
		o.start.WindowEnd = d.WindowEnd
	}
	c := common.New(d.now)
	c.Static = o.static
	c.After = d.After
	h := header.NewHelp(c)
	return Model{d: d, o: o, c: c, help: &h, st: &state{}}
}

func (m Model) home() *home.Model {
	cfg := home.Config{Runbooks: m.d.Runbooks, Target: m.d.Target}
	if m.d.Timings != nil {
		cfg.Timed = func(name string) bool { return len(m.d.Timings(name)) > 0 }
	}
	if m.d.Runs != nil {
		runs, err := m.d.Runs()
		cfg.RunsErr = err
		for _, r := range runs {
			cfg.Runs = append(cfg.Runs, home.Run{ID: r.ID, Runbook: r.Runbook, Status: r.Status, Current: r.Current, Started: r.Started})
		}
	}
	return home.New(m.c, cfg)
}

func (m Model) runPage(src RunSource) *run.Model {
	cfg := run.Config{Ctx: m.o.ctx, Source: src, Target: m.d.Target, WindowEnd: m.d.WindowEnd, ReadOnly: m.d.ReadOnly}
	rp := run.New(m.c, cfg)
	rp.SetTimings(m.d.Timings)
	rp.SetTwin(m.d.Twin)
	return rp
}

// Init asks the terminal for its background colour and starts the first page.
func (m Model) Init() tea.Cmd { return tea.Batch(tea.RequestBackgroundColor, m.st.page.Init()) }

// LeaveMessage is what the CLI prints after the program ends ("the run goes on in the background:
// cairn attach <id>"), or "".
func (m Model) LeaveMessage() string { return m.st.leave }

// RunState is the run on the Run page as it was folded when the program ended, or nil on another
// page (read it, do not change it).
func (m Model) RunState() *events.RunState {
	if rp, ok := m.st.page.(*run.Model); ok {
		return rp.State()
	}
	return nil
}

// Page names the page on screen: home, parameters, plan or run.
func (m Model) Page() string {
	switch m.st.page.(type) {
	case *home.Model:
		return "home"
	case *params.Model:
		return "parameters"
	case *plan.Model:
		return "plan"
	case *run.Model:
		return "run"
	}
	return ""
}

func (m Model) switchTo(p page, keep bool) tea.Cmd {
	if keep {
		m.st.history = append(m.st.history, m.st.page)
	} else {
		m.st.history = nil
	}
	m.st.page = p
	m.st.busy = ""
	m.help.ShowAll = false
	return tea.Batch(p.Init(), func() tea.Msg { return tea.WindowSizeMsg{Width: m.c.Width, Height: m.c.Height} })
}

// Update handles a message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.c.Width, m.c.Height = msg.Width, msg.Height
	case tea.BackgroundColorMsg:
		m.c.Styles = styles.New(msg.IsDark())
		h := header.NewHelp(m.c)
		h.ShowAll = m.help.ShowAll
		*m.help = h
		for _, p := range append(m.st.history, m.st.page) {
			if r, ok := p.(restyler); ok {
				r.Restyle()
			}
		}
	case tea.KeyPressMsg:
		if key.Matches(msg, m.c.Keys.Help) && !m.st.page.Capturing() {
			m.help.ShowAll = !m.help.ShowAll
			return m, nil
		}
	case common.QuitMsg:
		m.st.leave = msg.Message
		return m, tea.Quit
	case common.BackMsg:
		if n := len(m.st.history); n > 0 {
			m.st.page = m.st.history[n-1]
			m.st.history = m.st.history[:n-1]
			if pp, ok := m.st.page.(*params.Model); ok {
				// reopen the form with what was entered
				m.st.page = m.paramsPage(pp.Runbook(), pp.Given())
				return m, m.st.page.Init()
			}
		}
		return m, nil
	case common.ChooseRunbookMsg:
		return m, m.switchTo(m.paramsPage(msg.Runbook, m.d.Prefill), true)
	case common.ParamsDoneMsg:
		m.st.busy = "resolving parameters and planning…"
		d := m.d
		return m, func() tea.Msg {
			r := planReadyMsg{rb: msg.Runbook}
			if d.Resolve == nil || d.Plan == nil {
				r.err = errString("this cairn cannot plan: no resolver")
				return r
			}
			r.vals, r.err = d.Resolve(msg.Runbook, msg.Given)
			if r.err == nil {
				r.steps, r.err = d.Plan(msg.Runbook, r.vals)
			}
			return r
		}
	case planReadyMsg:
		m.st.busy = ""
		if msg.err != nil {
			if pp, ok := m.st.page.(*params.Model); ok {
				pp.SetError(msg.err)
				return m, pp.Init()
			}
			return m, nil
		}
		plainVals := msg.vals.Plain()
		for _, prm := range msg.rb.Parameters {
			if _, ok := plainVals[prm.Name]; ok && prm.Secret {
				plainVals[prm.Name] = "••••" // whatever Resolve did, a secret is never shown
			}
		}
		p := planview.Plan{Runbook: msg.rb.Name, Title: msg.rb.Title, Target: m.d.Target, Params: plainVals, Steps: msg.steps}
		if m.d.Timings != nil {
			p.Timings = m.d.Timings(msg.rb.Name)
		}
		return m, m.switchTo(plan.New(m.c, msg.rb, msg.vals, p, m.o.start.WindowEnd), true)
	case common.StartRunMsg:
		d, ctx, so := m.d, m.o.ctx, m.o.start
		return m, func() tea.Msg {
			if d.Start == nil {
				return runReadyMsg{err: errString("this cairn cannot start runs")}
			}
			src, err := d.Start(ctx, msg.Runbook, msg.Values, so)
			return runReadyMsg{src: src, err: err}
		}
	case common.AttachRunMsg:
		d, ctx := m.d, m.o.ctx
		m.st.busy = "attaching to " + msg.RunID + "…"
		return m, func() tea.Msg {
			if d.Attach == nil {
				return runReadyMsg{err: errString("this cairn cannot attach to runs")}
			}
			src, err := d.Attach(ctx, msg.RunID)
			return runReadyMsg{src: src, err: err}
		}
	case runReadyMsg:
		m.st.busy = ""
		if msg.err != nil {
			if pp, ok := m.st.page.(*plan.Model); ok {
				pp.StartFailed(msg.err)
			} else {
				m.st.busy = "could not open the run: " + msg.err.Error()
			}
			return m, nil
		}
		return m, m.switchTo(m.runPage(msg.src), false)
	}
	return m, m.st.page.Update(msg)
}

type errString string

func (e errString) Error() string { return string(e) }

// View draws header, page and footer.
func (m Model) View() tea.View {
	w, h := m.c.Width, m.c.Height
	p := m.st.page
	hd := header.View(m.c, p.Header(), w)
	keys := p.Help()
	foot := header.Footer(m.c, m.help, keys, w)
	if m.st.busy != "" {
		foot = m.c.Styles.Subtle.Render(" "+m.st.busy) + "\n" + foot
	}
	bodyH := max(h-lipgloss.Height(hd)-lipgloss.Height(foot), 1)
	body := p.View(w, bodyH)
	body = lipgloss.NewStyle().Height(bodyH).MaxHeight(bodyH).MaxWidth(w).Render(body)
	v := tea.NewView(strings.Join([]string{hd, body, foot}, "\n"))
	v.AltScreen = m.o.altScreen
	title := "cairn"
	if in := p.Header(); in.Runbook != "" {
		title += " · " + in.Runbook
	}
	v.WindowTitle = title
	return v
}
