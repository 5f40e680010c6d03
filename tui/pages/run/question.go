package run

// The open question: a prompt per question the runner asks, answered once.

import (
	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/components/prompt"
)

// syncPrompt keeps the prompt in step with the run's open question: a new prompt (armed against
// type-ahead) for a new question, none once it is answered, an approval's count kept current.
func (m *Model) syncPrompt() {
	q := m.rs.Open
	switch {
	case q == nil:
		m.prompt, m.sent = nil, ""
	case m.prompt == nil || m.prompt.Q.ID != q.ID:
		// a new question: an answer sent to the previous one no longer holds this prompt back
		m.prompt = prompt.New(m.c, q, m.runID(), m.cfg.ReadOnly)
		m.prompt.Destructive = m.destructive(q.Step)
		m.arm = m.prompt.Arm()
		m.status = ""
		if m.sent != q.ID {
			m.sent = ""
		}
	}
	if m.prompt != nil && q.Kind == events.AskApproval {
		n := 0
		for _, a := range m.rs.Answers {
			if a.Answer != nil && a.Answer.QuestionID == q.ID && a.Answer.Yes {
				n++
			}
		}
		m.prompt.SetApproved(n)
	}
}

// destructive reports whether step id is marked destructive in the run's record.
func (m *Model) destructive(id string) bool {
	base, _ := events.BaseID(id)
	for _, st := range m.rs.Steps {
		if st.Info.ID == base || st.Info.ID == id {
			return st.Info.Destructive
		}
	}
	return false
}

// answerWith hands a key to the prompt; an answer it makes is sent to the runner, once.
func (m *Model) answerWith(msg tea.Msg) tea.Cmd {
	a, cmd := m.prompt.Update(msg)
	if a == nil {
		return cmd
	}
	m.sent = a.QuestionID
	m.status = ""
	return answer(m.cfg.Ctx, m.cfg.Source, *a)
}
