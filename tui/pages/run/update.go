package run

// Update: messages in (records, answers delivered, notes written, ticks, keys), commands out.

import (
	"context"
	"time"

	"charm.land/bubbles/v2/spinner"
	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/components/prompt"
)

// Update handles a message.
func (m *Model) Update(msg tea.Msg) tea.Cmd {
	switch msg := msg.(type) {
	case EventsMsg:
		m.Apply(msg.Events...)
		arm := m.arm
		m.arm = nil
		if msg.Closed {
			m.closed = true
			return arm
		}
		return tea.Batch(arm, wait(m.cfg.Source.Events()))
	case prompt.ReadyMsg:
		if m.prompt != nil {
			m.prompt.Update(msg)
		}
		return nil
	case AnsweredMsg:
		if msg.Err != nil {
			m.sent = ""
			m.status = "the answer did not reach the runner: " + msg.Err.Error()
		}
		return nil
	case NotedMsg:
		if msg.Err != nil {
			m.status = "the note was not written: " + msg.Err.Error()
		} else {
			m.status = "note written to the journal"
		}
		return nil
	case tickMsg:
		return tick()
	case spinner.TickMsg:
		var cmd tea.Cmd
		m.spin, cmd = m.spin.Update(msg)
		return cmd
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	if m.prompt != nil {
		_, cmd := m.prompt.Update(msg)
		return cmd
	}
	return nil
}

// wait reads the next records; it blocks in the Cmd's goroutine, then drains what is already there
// so a long replay folds in a few Updates.
func wait(ch <-chan events.Event) tea.Cmd {
	return func() tea.Msg {
		e, ok := <-ch
		if !ok {
			return EventsMsg{Closed: true}
		}
		evs := []events.Event{e}
		for len(evs) < 1024 {
			select {
			case e, ok := <-ch:
				if !ok {
					return EventsMsg{Events: evs, Closed: true}
				}
				evs = append(evs, e)
			default:
				return EventsMsg{Events: evs}
			}
		}
		return EventsMsg{Events: evs}
	}
}

func tick() tea.Cmd { return tea.Tick(time.Second, func(t time.Time) tea.Msg { return tickMsg(t) }) }

func answer(ctx context.Context, src Source, a events.Answer) tea.Cmd {
	return func() tea.Msg { return AnsweredMsg{QuestionID: a.QuestionID, Err: src.Answer(ctx, a)} }
}

func note(ctx context.Context, src Source, text string) tea.Cmd {
	return func() tea.Msg { return NotedMsg{Err: src.Note(ctx, text)} }
}
