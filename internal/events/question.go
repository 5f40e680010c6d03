package events

// QuestionKind says what sort of answer a question wants.
type QuestionKind string

// Question kinds.
const (
	AskConfirm   QuestionKind = "confirm"   // yes / no before a step
	AskTyped     QuestionKind = "typed"     // type Expect to confirm a destructive step
	AskDecision  QuestionKind = "decision"  // a step failed: one of Options
	AskApproval  QuestionKind = "approval"  // another engineer must run `cairn approve`
	AskChecklist QuestionKind = "checklist" // tick Items by hand
	AskGoNoGo    QuestionKind = "go-no-go"  // the ETA passes the window's end
	AskInput     QuestionKind = "input"     // a value (Secret: never echoed or recorded)
)

// Question is something the runner needs a person to decide. It is recorded when asked and when
// answered; a view shows it and writes an Answer with the same ID.
type Question struct {
	ID        string       `json:"id"`
	Kind      QuestionKind `json:"kind"`
	Purpose   Purpose      `json:"purpose,omitempty"` // why it is asked: what a policy may answer keys on this
	Step      string       `json:"step,omitempty"`
	Prompt    string       `json:"prompt"`
	Detail    string       `json:"detail,omitempty"`
	Expect    string       `json:"expect,omitempty"` // AskTyped: the value to type
	Options   []Option     `json:"options,omitempty"`
	Items     []string     `json:"items,omitempty"`
	Secret    bool         `json:"secret,omitempty"`
	Approvals int          `json:"approvals,omitempty"` // AskApproval: how many distinct approvers
	Starter   string       `json:"starter,omitempty"`   // AskApproval: who may not approve
}

// Purpose says why the runner asks a question. What a flag policy may answer and what an answer
// does key on the purpose (and the kind), never on the prompt's words, which are for people only.
type Purpose string

// Question purposes.
const (
	PurposeApply    Purpose = "apply"     // confirm (or type) before a step applies
	PurposeApproval Purpose = "approval"  // other engineers approve a step
	PurposeGoNoGo   Purpose = "go-no-go"  // the ETA passes the window's end: start the destructive steps?
	PurposeFailure  Purpose = "failure"   // a step failed: one of the Options (a Decision)
	PurposeUndoStep Purpose = "undo-step" // confirm rolling back one applied step
	PurposeResume   Purpose = "resume"    // a person paused the run: continue with the next step?
	PurposeStep     Purpose = "step"      // the step itself asks (a checklist, a value, yes/no)
)

// Decision is a choice among a question's options: an Option's Key, an Answer's Choice.
type Decision string

// Decisions.
const (
	Retry    Decision = "retry"    // check the failed step again, apply it if still to do
	Rollback Decision = "rollback" // undo this run's applied steps, newest first, each confirmed
	Cutback  Decision = "cutback"  // run the runbook's cut-back steps
	Skip     Decision = "skip"     // leave the failed step undone, go on
	Abort    Decision = "abort"    // stop here, leave everything as it is
	Approve  Decision = "approve"  // an approval: the step may go ahead (as far as this person goes)
	Refuse   Decision = "refuse"   // an approval refused: the run stops before the step
	Go       Decision = "go"       // go/no-go: start the destructive steps
	NoGo     Decision = "no-go"    // go/no-go: stop before anything destructive
)

// Option is one choice of a decision, with what it will do.
type Option struct {
	Key    Decision `json:"key"`
	Label  string   `json:"label"`  // "Roll back"
	Effect string   `json:"effect"` // "undo steps 3, 2, 1 in that order, each confirmed"
}

// Answer is a reply to a question.
type Answer struct {
	QuestionID string   `json:"question_id"`
	Yes        bool     `json:"yes,omitempty"`
	Choice     Decision `json:"choice,omitempty"`
	Value      string   `json:"value,omitempty"` // never set for a secret question in the journal
	By         *Actor   `json:"by,omitempty"`
}

// Text is the answer as a view shows it: the decision chosen, else the value typed with typed in
// front of it (the report's "typed ", the plain view's ""), else yes or no, as the person said it.
func (a Answer) Text(typed string) string {
	switch {
	case a.Choice != "":
		return string(a.Choice)
	case a.Value != "":
		return typed + a.Value
	}
	if a.Yes {
		return "yes"
	}
	return "no"
}
