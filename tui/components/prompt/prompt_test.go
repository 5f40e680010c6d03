package prompt

import (
	"testing"

	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
)

func press(m *Model, keys ...string) *events.Answer {
	var a *events.Answer
	for _, k := range keys {
		var msg tea.KeyPressMsg
		switch k {
		case "enter":
			msg = tea.KeyPressMsg{Code: tea.KeyEnter}
		case "esc":
			msg = tea.KeyPressMsg{Code: tea.KeyEscape}
		case "down":
			msg = tea.KeyPressMsg{Code: tea.KeyDown}
		case "space":
			msg = tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
		default:
			msg = tea.KeyPressMsg{Code: []rune(k)[0], Text: k}
		}
		a, _ = m.Update(msg)
		if a != nil {
			return a
		}
	}
	return a
}

// ready ends the prompt's grace period, as its timer would.
func ready(m *Model) *Model {
	m.Update(ReadyMsg{QuestionID: m.Q.ID})
	return m
}

func typed(m *Model, s string) {
	for _, r := range s {
		m.Update(tea.KeyPressMsg{Code: r, Text: string(r)})
	}
}

// A bare enter answers no yes/no or go/no-go question: either answer can end or change the run.
func TestBareEnterChoosesNothing(t *testing.T) {
	for _, k := range []events.QuestionKind{events.AskConfirm, events.AskGoNoGo} {
		m := ready(New(common.New(nil), &events.Question{ID: "q", Kind: k}, "r", false))
		if a := press(m, "enter", "enter"); a != nil {
			t.Fatalf("%s: enter on a fresh question = %+v, want no answer", k, a)
		}
		if m.Refused() == "" {
			t.Fatalf("%s: enter with nothing chosen says nothing", k)
		}
		if a := press(m, "n", "enter"); a == nil || a.Yes {
			t.Fatalf("%s: n = %+v, want no", k, a)
		}
	}
	m := ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskConfirm}, "r", false))
	m = ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskConfirm}, "r", false))
	if a := press(m, "y"); a == nil || !a.Yes || a.QuestionID != "q" {
		t.Fatalf("y = %+v", a)
	}
}

func TestTypedRefusesWrongValue(t *testing.T) {
	m := ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskTyped, Expect: "app-db"}, "r", false))
	if !m.Capturing() {
		t.Fatal("typed confirmation must capture keys (q is text)")
	}
	typed(m, "app-d")
	if a := press(m, "enter"); a != nil {
		t.Fatalf("wrong value answered: %+v", a)
	}
	if m.Refused() == "" {
		t.Fatal("no message for a wrong value")
	}
	typed(m, "app-db")
	a := press(m, "enter")
	if a == nil || !a.Yes || a.Value != "app-db" {
		t.Fatalf("right value = %+v", a)
	}
	m = ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskTyped, Expect: "app-db"}, "r", false))
	if a := press(m, "esc"); a == nil || a.Yes {
		t.Fatalf("esc = %+v, want a decline", a)
	}
}

func TestDecision(t *testing.T) {
	q := &events.Question{ID: "q", Kind: events.AskDecision, Options: []events.Option{{Key: "retry"}, {Key: "rollback"}, {Key: "abort"}}}
	if a := press(ready(New(common.New(nil), q, "r", false)), "down", "enter"); a == nil || a.Choice != "rollback" {
		t.Fatalf("down enter = %+v", a)
	}
	if a := press(ready(New(common.New(nil), q, "r", false)), "3", "enter"); a == nil || a.Choice != "abort" {
		t.Fatalf("3 enter = %+v", a)
	}
}

func TestChecklistNeedsEveryItem(t *testing.T) {
	m := ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskChecklist, Items: []string{"a", "b"}}, "r", false))
	if a := press(m, "space", "enter"); a != nil {
		t.Fatalf("answered with one item open: %+v", a)
	}
	if m.Refused() == "" {
		t.Fatal("no message")
	}
	if a := press(m, "down", "space", "enter"); a == nil || !a.Yes {
		t.Fatalf("all ticked = %+v", a)
	}
}

func TestSecretIsClearedAfterAnswer(t *testing.T) {
	m := ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskInput, Secret: true}, "r", false))
	typed(m, "hunter2")
	a := press(m, "enter")
	if a == nil || a.Value != "hunter2" {
		t.Fatalf("answer = %+v", a)
	}
	if m.input.Value() != "" {
		t.Fatal("the secret stays in the input")
	}
}

func TestReadOnlyAndApprovalAnswerNothing(t *testing.T) {
	for _, q := range []*events.Question{
		{ID: "q", Kind: events.AskConfirm},
		{ID: "q", Kind: events.AskDecision, Options: []events.Option{{Key: "retry"}}},
	} {
		if a := press(New(common.New(nil), q, "r", true), "y", "enter"); a != nil {
			t.Fatalf("read-only answered %+v", a)
		}
	}
	if a := press(ready(New(common.New(nil), &events.Question{ID: "q", Kind: events.AskApproval, Approvals: 2}, "r", false)), "y", "enter"); a != nil {
		t.Fatalf("approval answered from the TUI: %+v", a)
	}
}

// A failure decision's preselected option is never one that ends the run; when all of them do,
// nothing is preselected.
func TestDecisionDefaultDoesNotEndTheRun(t *testing.T) {
	q := &events.Question{ID: "q", Kind: events.AskDecision, Options: []events.Option{{Key: events.Abort}, {Key: events.Rollback}, {Key: events.Retry}}}
	if a := press(ready(New(common.New(nil), q, "r", false)), "enter"); a == nil || a.Choice != events.Retry {
		t.Fatalf("enter = %+v, want retry", a)
	}
	q = &events.Question{ID: "q", Kind: events.AskDecision, Options: []events.Option{{Key: events.Abort}, {Key: events.Rollback}}}
	m := ready(New(common.New(nil), q, "r", false))
	if a := press(m, "enter"); a != nil {
		t.Fatalf("enter with only run-ending options = %+v, want no answer", a)
	}
	if a := press(m, "2", "enter"); a == nil || a.Choice != events.Rollback {
		t.Fatalf("2 enter = %+v", a)
	}
}

// Keys before the grace period ends are dropped, not kept for later; a ready message for another
// question does not make this one ready.
func TestKeysBeforeReadyAreDropped(t *testing.T) {
	m := New(common.New(nil), &events.Question{ID: "q", Kind: events.AskConfirm}, "r", false)
	if a := press(m, "y"); a != nil {
		t.Fatalf("y before ready = %+v", a)
	}
	m.Update(ReadyMsg{QuestionID: "other"})
	if a := press(m, "y"); a != nil || m.Ready() {
		t.Fatalf("ready for another question made this one ready: %+v", a)
	}
	m.Update(ReadyMsg{QuestionID: "q"})
	if a := press(m, "enter"); a != nil {
		t.Fatalf("a dropped y was kept: enter answered %+v", a)
	}
	if a := press(m, "y"); a == nil || !a.Yes {
		t.Fatalf("y after ready = %+v", a)
	}
	typedQ := New(common.New(nil), &events.Question{ID: "t", Kind: events.AskTyped, Expect: "app-db"}, "r", false)
	typed(typedQ, "app-db")
	ready(typedQ)
	if a := press(typedQ, "enter"); a != nil {
		t.Fatalf("text typed before ready confirmed a typed question: %+v", a)
	}
	if g := typedQ.GraceFor(); g != DestructiveGrace {
		t.Fatalf("typed confirmation grace = %v, want %v", g, DestructiveGrace)
	}
}
