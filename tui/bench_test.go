package tui_test

import (
	"fmt"
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui"
	"github.com/cairn-runbooks/cairn/tui/pages/run"
)

// runEvents is a run two steps in, with 500 lines of output from the current step.
func runEvents(lines int) []events.Event {
	f := newFake("r-bench")
	scriptRunning(f, lines)
	close(f.ch)
	var evs []events.Event
	for e := range f.ch {
		evs = append(evs, e)
	}
	return evs
}

func feed(m tui.Model, msgs ...tea.Msg) tui.Model {
	for _, msg := range msgs {
		x, _ := m.Update(msg)
		m = x.(tui.Model)
	}
	return m
}

// BenchmarkFirstFrame: a new Run screen, the window size, a replay with 500 lines of step output,
// then the first frame (Glamour renderer included).
func BenchmarkFirstFrame(b *testing.B) {
	evs := runEvents(500)
	for b.Loop() {
		m := tui.NewRunView(deps(), newFake("r-bench"), opts()...)
		m = feed(m, tea.WindowSizeMsg{Width: 160, Height: 48}, run.EventsMsg{Events: evs})
		_ = m.View()
	}
}

// BenchmarkKeyToFrame: one key (scroll the output back a page, or forward) and the frame after it.
func BenchmarkKeyToFrame(b *testing.B) {
	m := tui.NewRunView(deps(), newFake("r-bench"), opts()...)
	m = feed(m, tea.WindowSizeMsg{Width: 160, Height: 48}, run.EventsMsg{Events: runEvents(500)})
	_ = m.View()
	keys := []tea.Msg{tea.KeyPressMsg{Code: tea.KeyPgUp}, tea.KeyPressMsg{Code: tea.KeyPgDown}}
	i := 0
	for b.Loop() {
		m = feed(m, keys[i%2])
		_ = m.View()
		i++
	}
}

// BenchmarkFirstFrameTimeline: as BenchmarkFirstFrame, with the rehearsal read and the timeline
// opened (t) before the first frame.
func BenchmarkFirstFrameTimeline(b *testing.B) {
	evs := runEvents(500)
	for b.Loop() {
		m := tui.NewRunView(timelineDeps(), newFake("r-bench"), opts()...)
		m = feed(m, tea.WindowSizeMsg{Width: 160, Height: 48}, run.EventsMsg{Events: evs}, tea.KeyPressMsg{Code: 't', Text: "t"})
		_ = m.View()
	}
}

// BenchmarkKeyToFrameTimeline: with the timeline open, one key (t: back to the output, or to the
// timeline again) and the frame after it.
func BenchmarkKeyToFrameTimeline(b *testing.B) {
	m := tui.NewRunView(timelineDeps(), newFake("r-bench"), opts()...)
	m = feed(m, tea.WindowSizeMsg{Width: 160, Height: 48}, run.EventsMsg{Events: runEvents(500)}, tea.KeyPressMsg{Code: 't', Text: "t"})
	_ = m.View()
	for b.Loop() {
		m = feed(m, tea.KeyPressMsg{Code: 't', Text: "t"})
		_ = m.View()
	}
}

// TestFrameBudgets keeps the benchmark targets honest in ordinary test runs (with slack for a busy
// machine): first frame < 50ms, key to frame < 16ms.
func TestRootUpdate(t *testing.T) {
	f := newFake("r-1")
	m := tui.NewRunView(deps(), f, opts()...)
	m = feed(m, tea.WindowSizeMsg{Width: 100, Height: 30}, run.EventsMsg{Events: runEvents(3)})
	if m.Page() != "run" {
		t.Fatal(m.Page())
	}
	// light background: styles rebuilt, nothing breaks
	m = feed(m, tea.BackgroundColorMsg{Color: lightGrey{}})
	v := plain(m.View().Content)
	if got := len(splitLines(v)); got != 30 {
		t.Fatalf("frame has %d lines, want 30", got)
	}
	// resize
	m = feed(m, tea.WindowSizeMsg{Width: 80, Height: 24})
	if got := len(splitLines(plain(m.View().Content))); got != 24 {
		t.Fatalf("after resize %d lines, want 24", got)
	}
	if m.View().AltScreen {
		t.Fatal("alt screen on in tests")
	}
	if !tui.NewRunView(deps(), f).View().AltScreen {
		t.Fatal("alt screen off by default")
	}
	// ? toggles full help
	m = feed(m, tea.KeyPressMsg{Code: '?', Text: "?"})
	if v := plain(m.View().Content); !contains(v, "ctrl+c") {
		t.Fatalf("full help missing:\n%s", v)
	}
	_ = fmt.Sprint()
}

type lightGrey struct{}

func (lightGrey) RGBA() (r, g, b, a uint32) { return 0xeeee, 0xeeee, 0xeeee, 0xffff }

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}
