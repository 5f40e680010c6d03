package runner

import (
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
)

// What a flag policy answers depends on a question's purpose and kind only: the same questions
// worded otherwise (another language, a reworded prompt, relabelled options) get the same answers,
// and a prompt that merely reads like another purpose gets nothing.
func TestPolicyKeysOnPurposeNotWording(t *testing.T) {
	failure := func(prompt string, keys ...events.Decision) events.Question {
		q := events.Question{Kind: events.AskDecision, Purpose: events.PurposeFailure, Prompt: prompt}
		for _, k := range keys {
			q.Options = append(q.Options, events.Option{Key: k, Label: "«" + string(k) + "» reworded"})
		}
		return q
	}
	tests := []struct {
		name     string
		policy   journal.Policy
		q        events.Question
		answered bool
		yes      bool
		choice   events.Decision
	}{
		{"undo a step, reworded", journal.Policy{OnFailure: "rollback"},
			events.Question{Kind: events.AskConfirm, Purpose: events.PurposeUndoStep, Prompt: "Annuler l'étape b ?"}, true, true, ""},
		{"undo a step, the old words", journal.Policy{OnFailure: "rollback"},
			events.Question{Kind: events.AskConfirm, Purpose: events.PurposeUndoStep, Prompt: "Roll back b (B)?"}, true, true, ""},
		{"an apply that reads like a rollback", journal.Policy{OnFailure: "rollback"},
			events.Question{Kind: events.AskConfirm, Purpose: events.PurposeApply, Prompt: "Roll back the whole database to yesterday?"}, false, false, ""},
		{"a pause under --yes", journal.Policy{Yes: true},
			events.Question{Kind: events.AskConfirm, Purpose: events.PurposeResume, Prompt: "Apply the next step?"}, false, false, ""},
		{"an approval under --yes", journal.Policy{Yes: true},
			events.Question{Kind: events.AskApproval, Purpose: events.PurposeApproval, Prompt: "Continue?"}, false, false, ""},
		{"go/no-go under --yes", journal.Policy{Yes: true},
			events.Question{Kind: events.AskGoNoGo, Purpose: events.PurposeGoNoGo, Prompt: "Vorwärts?"}, true, true, events.Go},
		{"failure → cut back first", journal.Policy{OnFailure: "rollback"},
			failure("Roll back? Abort?", events.Retry, events.Cutback, events.Rollback, events.Abort), true, false, events.Cutback},
		{"failure → roll back", journal.Policy{OnFailure: "rollback"},
			failure("Cut back!", events.Retry, events.Rollback, events.Abort), true, false, events.Rollback},
		{"failure, nothing to undo → abort", journal.Policy{OnFailure: "rollback"},
			failure("Roll back", events.Retry, events.Abort), true, false, events.Abort},
		{"failure → abort", journal.Policy{OnFailure: "abort"},
			failure("Retry", events.Retry, events.Rollback, events.Abort), true, false, events.Abort},
	}
	for _, tt := range tests {
		r := &Runner{cfg: Config{Meta: journal.Meta{Policy: tt.policy}}}
		a, ok := r.policyAnswer(tt.q)
		if ok != tt.answered || a.Yes != tt.yes || a.Choice != tt.choice {
			t.Errorf("%s: answered=%v yes=%v choice=%q; want %v %v %q", tt.name, ok, a.Yes, a.Choice, tt.answered, tt.yes, tt.choice)
		}
	}
}
