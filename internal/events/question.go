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

// Option is one choice of a decision, with what it will do.
type Option struct {
	Key    string `json:"key"`    // retry | rollback | cutback | skip | abort
	Label  string `json:"label"`  // "Roll back"
	Effect string `json:"effect"` // "undo steps 3, 2, 1 in that order, each confirmed"
}

// Decision keys.
const (
	Retry    = "retry"
	Rollback = "rollback"
	Skip     = "skip"
	Abort    = "abort"
	Pause    = "pause"
)

// Answer is a reply to a question.
type Answer struct {
	QuestionID string `json:"question_id"`
	Yes        bool   `json:"yes,omitempty"`
	Choice     string `json:"choice,omitempty"`
	Value      string `json:"value,omitempty"` // never set for a secret question in the journal
	By         *Actor `json:"by,omitempty"`
}
