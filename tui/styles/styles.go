// Package styles is the only place the TUI builds Lip Gloss styles. One accent colour marks the
// current step and the focused choice; red is used for failure and nothing else; amber warns
// (a window about to be overrun, a real AWS account). Nothing blinks.
package styles

import (
	"image/color"

	"charm.land/bubbles/v2/textinput"
	"charm.land/huh/v2"
	"charm.land/lipgloss/v2"
)

// Styles are all the styles the TUI draws with, for one background (light or dark).
type Styles struct {
	IsDark bool

	Accent, Fail, Warn, OK, Muted, Text color.Color

	App        lipgloss.Style // the whole frame (padding)
	Title      lipgloss.Style // screen and runbook titles
	Subtle     lipgloss.Style // secondary text
	Bold       lipgloss.Style
	Current    lipgloss.Style // the current step, the focused row: the accent
	Selected   lipgloss.Style // a focused list row's marker
	Failure    lipgloss.Style // red: failures only
	Warning    lipgloss.Style // amber: ETA past the window's end
	Success    lipgloss.Style
	Rule       lipgloss.Style // horizontal rules and pane borders
	Key        lipgloss.Style // a key in prose ("press y")
	Code       lipgloss.Style // a command or a value to type
	Destroy    lipgloss.Style // the "destructive" tag
	TargetLive lipgloss.Style // a real AWS account: reverse amber, unmistakable
	TargetTwin lipgloss.Style // the rehearsal twin
	ReadOnly   lipgloss.Style // the "following read-only" badge
	Header     lipgloss.Style
	Footer     lipgloss.Style
	Pane       lipgloss.Style // the right-hand pane
	PromptBox  lipgloss.Style // a question waiting for an answer
	FailBox    lipgloss.Style // a failure decision
	ErrorText  lipgloss.Style // an inline validation message

	// The timeline: tonight's bars in the accent (a failed step's in red), waits for a person in
	// amber, the rehearsal's bars muted, the window's end in amber.
	TimelineWork, TimelineWait, TimelinePrompt, TimelineRehearsal, TimelineWindow lipgloss.Style
}

// New builds the styles for a dark or light background. Colours are given in full; Bubble Tea
// downsamples them to the terminal's profile, and NO_COLOR drops them.
func New(isDark bool) *Styles {
	ld := lipgloss.LightDark(isDark)
	s := &Styles{IsDark: isDark}
	s.Accent = ld(lipgloss.Color("#4B47D6"), lipgloss.Color("#8B87FF"))
	s.Fail = ld(lipgloss.Color("#C4162A"), lipgloss.Color("#FF5F6D"))
	s.Warn = ld(lipgloss.Color("#A15C00"), lipgloss.Color("#FFB347"))
	s.OK = ld(lipgloss.Color("#2E7D32"), lipgloss.Color("#7BC47F"))
	s.Muted = ld(lipgloss.Color("#6B6B6B"), lipgloss.Color("#8A8A8A"))
	s.Text = ld(lipgloss.Color("#1F1F1F"), lipgloss.Color("#E4E4E4"))

	s.App = lipgloss.NewStyle()
	s.Title = lipgloss.NewStyle().Bold(true)
	s.Subtle = lipgloss.NewStyle().Foreground(s.Muted)
	s.Bold = lipgloss.NewStyle().Bold(true)
	s.Current = lipgloss.NewStyle().Foreground(s.Accent).Bold(true)
	s.Selected = lipgloss.NewStyle().Foreground(s.Accent)
	s.Failure = lipgloss.NewStyle().Foreground(s.Fail).Bold(true)
	s.Warning = lipgloss.NewStyle().Foreground(s.Warn).Bold(true)
	s.Success = lipgloss.NewStyle().Foreground(s.OK)
	s.Rule = lipgloss.NewStyle().Foreground(s.Muted)
	s.Key = lipgloss.NewStyle().Bold(true)
	s.Code = lipgloss.NewStyle().Bold(true).Foreground(s.Accent)
	s.Destroy = lipgloss.NewStyle().Foreground(s.Warn).Bold(true)
	s.TargetLive = lipgloss.NewStyle().Bold(true).Reverse(true).Foreground(s.Warn).Padding(0, 1)
	s.TargetTwin = lipgloss.NewStyle().Bold(true).Foreground(s.OK)
	s.ReadOnly = lipgloss.NewStyle().Bold(true).Foreground(s.Accent)
	s.Header = lipgloss.NewStyle().Padding(0, 1)
	s.Footer = lipgloss.NewStyle().Padding(0, 1)
	s.Pane = lipgloss.NewStyle().PaddingLeft(1)
	s.PromptBox = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(s.Accent).Padding(0, 1)
	s.FailBox = lipgloss.NewStyle().Border(lipgloss.RoundedBorder()).BorderForeground(s.Fail).Padding(0, 1)
	s.ErrorText = lipgloss.NewStyle().Foreground(s.Fail)
	s.TimelineWork = lipgloss.NewStyle().Foreground(s.Accent)
	s.TimelineWait = lipgloss.NewStyle().Foreground(s.Accent).Faint(true)
	s.TimelinePrompt = lipgloss.NewStyle().Foreground(s.Warn).Bold(true)
	s.TimelineRehearsal = lipgloss.NewStyle().Foreground(s.Muted)
	s.TimelineWindow = lipgloss.NewStyle().Foreground(s.Warn)
	return s
}

// TextInput is the text input style: the accent prompt, and a cursor that does not blink.
func (s *Styles) TextInput() textinput.Styles {
	st := textinput.DefaultStyles(s.IsDark)
	st.Cursor.Blink = false
	st.Focused.Prompt = st.Focused.Prompt.Foreground(s.Accent)
	return st
}

// Form is the Huh theme for the parameter form: Charm's base theme with the accent on the focused
// field and red only for validation errors.
func (s *Styles) Form() huh.Theme {
	return huh.ThemeFunc(func(isDark bool) *huh.Styles {
		st := huh.ThemeBase(isDark)
		ns := New(isDark)
		st.Focused.Title = st.Focused.Title.Foreground(ns.Accent).Bold(true)
		st.Focused.Base = st.Focused.Base.BorderForeground(ns.Accent)
		st.Focused.SelectSelector = st.Focused.SelectSelector.Foreground(ns.Accent)
		st.Focused.SelectedOption = st.Focused.SelectedOption.Foreground(ns.Accent)
		st.Focused.ErrorIndicator = st.Focused.ErrorIndicator.Foreground(ns.Fail)
		st.Focused.ErrorMessage = st.Focused.ErrorMessage.Foreground(ns.Fail)
		st.Blurred.ErrorIndicator = st.Blurred.ErrorIndicator.Foreground(ns.Fail)
		st.Blurred.ErrorMessage = st.Blurred.ErrorMessage.Foreground(ns.Fail)
		st.Focused.TextInput.Prompt = st.Focused.TextInput.Prompt.Foreground(ns.Accent)
		return st
	})
}
