package run

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
	"github.com/cairn-runbooks/cairn/tui/components/prompt"
)

var t0 = time.Date(2026, 11, 26, 2, 14, 0, 0, time.UTC)

type src struct {
	ch      chan events.Event
	answers []events.Answer
}

func (s *src) Events() <-chan events.Event { return s.ch }
func (s *src) Answer(_ context.Context, a events.Answer) error {
	s.answers = append(s.answers, a)
	return nil
}
func (s *src) Note(context.Context, string) error { return nil }
func (s *src) RunID() string                      { return "r-1" }

func started() []events.Event {
	return []events.Event{
		{Type: events.RunStarted, Time: t0, Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: []events.StepInfo{{ID: "a", Title: "A"}, {ID: "b", Title: "B"}, {ID: "c", Title: "C"}}}},
		{Type: events.StepChecking, Step: "a", Time: t0},
		{Type: events.StepApplying, Step: "a", Time: t0},
	}
}

func page(readOnly bool) (*Model, *src) {
	c := common.New(func() time.Time { return t0.Add(time.Minute) })
	s := &src{ch: make(chan events.Event)}
	return New(c, Config{Source: s, ReadOnly: readOnly}), s
}

// readyNow ends the open prompt's grace period, as its timer would.
func readyNow(m *Model) {
	m.Update(prompt.ReadyMsg{QuestionID: m.Prompt().Q.ID})
}

func TestOutputFollowsCurrentStep(t *testing.T) {
	m, _ := page(false)
	m.Apply(started()...)
	m.Apply(events.Event{Type: events.OutputLine, Step: "a", Line: &events.Line{Text: "from a"}})
	if v := m.View(80, 20); !strings.Contains(v, "from a") {
		t.Fatalf("no output:\n%s", v)
	}
	m.Apply(events.Event{Type: events.StepVerified, Step: "a"}, events.Event{Type: events.StepChecking, Step: "b"})
	if v := m.View(80, 20); strings.Contains(v, "from a") {
		t.Fatalf("step b shows step a's output:\n%s", v)
	}
}

func TestAnswerIsSentOnce(t *testing.T) {
	m, s := page(false)
	m.Apply(started()...)
	m.Apply(events.Event{Type: events.QuestionAsked, Step: "b", Question: &events.Question{ID: "q", Kind: events.AskConfirm}})
	readyNow(m)
	cmd := m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if cmd == nil {
		t.Fatal("no answer command")
	}
	cmd()
	if m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"}) != nil {
		t.Fatal("answered twice before the runner recorded the first")
	}
	if len(s.answers) != 1 || !s.answers[0].Yes {
		t.Fatalf("answers = %+v", s.answers)
	}
	m.Apply(events.Event{Type: events.QuestionAnswered, Answer: &s.answers[0]})
	if m.Prompt() != nil {
		t.Fatal("the prompt stays after the answer was recorded")
	}
}

func TestQuitAsksWhileRunningNotWhenFollowing(t *testing.T) {
	m, _ := page(false)
	m.Apply(started()...)
	if cmd := m.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd != nil {
		t.Fatal("q during a step left without asking")
	}
	if !strings.Contains(m.View(80, 24), "cairn attach r-1") {
		t.Fatal("the leave question does not say how to come back")
	}
	cmd := m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if msg, ok := cmd().(common.QuitMsg); !ok || !strings.Contains(msg.Message, "cairn attach r-1") {
		t.Fatalf("leave = %#v", cmd())
	}

	ro, _ := page(true)
	ro.Apply(started()...)
	if cmd := ro.Update(tea.KeyPressMsg{Code: 'q', Text: "q"}); cmd == nil {
		t.Fatal("read-only q asks instead of leaving")
	}
}

func TestStreamClosedEarlySaysSo(t *testing.T) {
	m, _ := page(false)
	m.Apply(started()...)
	m.Update(EventsMsg{Closed: true})
	if v := m.View(80, 24); !strings.Contains(v, "cairn attach r-1") {
		t.Fatalf("closed stream not explained:\n%s", v)
	}
}

func TestResizeKeepsWithinBounds(t *testing.T) {
	m, _ := page(false)
	m.Apply(started()...)
	for i := range 300 {
		m.Apply(events.Event{Type: events.OutputLine, Step: "a", Line: &events.Line{Text: fmt.Sprint("line ", i, strings.Repeat(" x", 60))}})
	}
	for _, sz := range [][2]int{{80, 20}, {160, 44}, {60, 10}, {200, 60}} {
		v := m.View(sz[0], sz[1])
		lines := strings.Split(v, "\n")
		if len(lines) > sz[1] {
			t.Fatalf("%v: %d lines", sz, len(lines))
		}
	}
}

type noteSrc struct {
	src
	notes []string
}

func (s *noteSrc) Note(_ context.Context, text string) error {
	s.notes = append(s.notes, text)
	return nil
}

func TestNoteGoesToTheJournal(t *testing.T) {
	c := common.New(func() time.Time { return t0 })
	s := &noteSrc{src: src{ch: make(chan events.Event)}}
	m := New(c, Config{Source: s})
	m.Apply(started()...)
	m.Update(tea.KeyPressMsg{Code: 'n', Text: "n"})
	if !m.Capturing() {
		t.Fatal("n does not open the note input")
	}
	for _, r := range "q: paged the DBA" { // q is text here, not quit
		if cmd := m.Update(tea.KeyPressMsg{Code: r, Text: string(r)}); cmd != nil {
			if _, quit := cmd().(common.QuitMsg); quit {
				t.Fatal("q in a note quit")
			}
		}
	}
	cmd := m.Update(tea.KeyPressMsg{Code: tea.KeyEnter})
	if cmd == nil {
		t.Fatal("no note command")
	}
	if msg := cmd(); msg.(NotedMsg).Err != nil || len(s.notes) != 1 || s.notes[0] != "q: paged the DBA" {
		t.Fatalf("notes = %q", s.notes)
	}
}

// A decision answered and the next question (roll back this step?) arriving in the same batch: a
// key pressed at once is not its answer (it was meant for the first); once ready, it takes keys.
func TestNextQuestionInTheSameBatchIsLive(t *testing.T) {
	m, s := page(false)
	m.Apply(started()...)
	m.Apply(events.Event{Type: events.QuestionAsked, Step: "b", Question: &events.Question{ID: "q1", Kind: events.AskConfirm}})
	readyNow(m)
	m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})()
	m.Update(AnsweredMsg{QuestionID: "q1"})
	m.Apply(
		events.Event{Type: events.QuestionAnswered, Answer: &s.answers[0]},
		events.Event{Type: events.QuestionAsked, Step: "a", Question: &events.Question{ID: "q2", Kind: events.AskConfirm, Prompt: "Roll back a?"}},
	)
	if cmd := m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"}); cmd != nil {
		t.Fatal("a key pressed as the second question arrived answered it")
	}
	readyNow(m)
	cmd := m.Update(tea.KeyPressMsg{Code: 'y', Text: "y"})
	if cmd == nil {
		t.Fatal("the second question does not take an answer")
	}
	cmd()
	if len(s.answers) != 2 || s.answers[1].QuestionID != "q2" {
		t.Fatalf("answers = %+v", s.answers)
	}
}

// A cut-back step is listed as what it is — run only if the engineer chooses cut back — not as a
// step still to come.
func TestCutbackStepsAreMarked(t *testing.T) {
	m, _ := page(false)
	m.Apply(events.Event{Type: events.RunStarted, Time: t0, Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: []events.StepInfo{
		{ID: "a", Title: "A"}, {ID: "restore-source", Title: "Restore the source", Cutback: true}}}})
	v := m.View(100, 20)
	if !strings.Contains(v, "↺ Restore") || !strings.Contains(v, "if cut back") {
		t.Fatalf("cut-back step not marked:\n%s", v)
	}
}
