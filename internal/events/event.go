// Package events is the language the runner and its views speak: versioned records of what happened
// in a run (written to the journal) and the questions the runner asks (answered by a view, a flag
// or another engineer). The runner never prints; the TUI, the plain line renderer, `cairn follow`
// and reports all read these records, so they always agree.
package events

import (
	"time"

	"github.com/cairn-runbooks/cairn/internal/diag"
)

// Version is the schema version of every record written by this build.
const Version = 1

// Type names a record.
type Type string

// Record types.
const (
	RunStarted   Type = "run.started" // Run set
	RunResumed   Type = "run.resumed" // a runner took the run up again (Actor, Note: why)
	RunTakenOver Type = "run.taken-over"
	RunFinished  Type = "run.finished" // Status (a RunStatus), Note: what qualifies it
	RunPaused    Type = "run.paused"

	StepChecking       Type = "step.checking"
	StepChecked        Type = "step.checked" // Check set
	StepSkipped        Type = "step.skipped" // Note: why (condition false, already done, engineer's choice)
	StepApplying       Type = "step.applying"
	StepApplied        Type = "step.applied" // Outputs set (secret ones masked)
	StepVerifying      Type = "step.verifying"
	StepVerified       Type = "step.verified"
	StepFailed         Type = "step.failed" // Error set; Phase says where
	StepRollingBack    Type = "step.rolling-back"
	StepRolledBack     Type = "step.rolled-back"
	StepRollbackFailed Type = "step.rollback-failed"
	// StepInterrupted: the runner was stopped while this step was in flight (Phase: where; Note:
	// what stopped it). A resume checks the step first: done work is not repeated.
	StepInterrupted Type = "step.interrupted"

	QuestionAsked    Type = "question.asked"    // Question set
	QuestionAnswered Type = "question.answered" // Answer set

	Note         Type = "note"          // an engineer's note (Note, Actor)
	ChildStarted Type = "child.started" // Child set
	ChildExited  Type = "child.exited"

	OutputLine Type = "output.line" // output log only: Line set
	Progressed Type = "progress"    // output log only: Progress set

	// RunnerGone is never journaled: a view's follower says it when the run's runner died without
	// a word (SIGKILL, a crash) — its lock is free and the journal has no run.finished. Step is the
	// step in flight ("" between steps), Error what to tell the engineer. The run is unfinished:
	// nothing of the step in flight is known to be done; `cairn resume` checks it first.
	RunnerGone Type = "runner.gone"
)

// Event is one record. Only the fields its Type names are set.
type Event struct {
	V     int       `json:"v"`
	Seq   int64     `json:"seq"`
	Time  time.Time `json:"time"`
	Type  Type      `json:"type"`
	Step  string    `json:"step,omitempty"` // step key: id, or id[item] inside a foreach
	Actor *Actor    `json:"actor,omitempty"`

	Run      *RunInfo          `json:"run,omitempty"`
	Check    *CheckInfo        `json:"check,omitempty"`
	Outputs  map[string]string `json:"outputs,omitempty"`
	Error    *Diag             `json:"error,omitempty"`
	Phase    string            `json:"phase,omitempty"` // check | apply | verify | rollback
	Question *Question         `json:"question,omitempty"`
	Answer   *Answer           `json:"answer,omitempty"`
	Progress *Progress         `json:"progress,omitempty"`
	Line     *Line             `json:"line,omitempty"`
	Child    *Child            `json:"child,omitempty"`
	Note     string            `json:"note,omitempty"`
	Status   RunStatus         `json:"status,omitempty"`
	Elapsed  Duration          `json:"elapsed,omitempty"` // how long the phase that just ended took
	// AlreadyDone (StepVerified): the work was found in place, not done by this run, so this run's
	// rollback does not undo it. Note says so in words, for the views. On StepApplied: nothing was
	// applied — the outputs of a step found done were read from the target (Elapsed is zero).
	AlreadyDone bool `json:"already_done,omitempty"`
	// Unchanged (StepFailed in apply): the step said its failed apply changed nothing, so — unless
	// an earlier attempt of it had started changing things — a roll back does not undo it.
	Unchanged bool `json:"unchanged,omitempty"`
}

// Actor is who did something: the person (SUDO_USER or the login name), their uid, and the host.
type Actor struct {
	User string `json:"user"`
	UID  int    `json:"uid"`
	Host string `json:"host"`
	Via  string `json:"via,omitempty"` // "tui", "plain", "flag --yes", "cairn approve", "policy --on-failure"
}

func (a *Actor) String() string {
	if a == nil {
		return "cairn"
	}
	s := a.User + "@" + a.Host
	if a.Via != "" {
		s += " (" + a.Via + ")"
	}
	return s
}

// RunInfo describes a run when it starts: everything a view needs to draw it from the journal alone.
type RunInfo struct {
	ID         string            `json:"id"`
	Runbook    string            `json:"runbook"`
	Title      string            `json:"title"`
	Params     map[string]string `json:"params"` // secret ones as ••••
	Steps      []StepInfo        `json:"steps"`
	Target     string            `json:"target,omitempty"` // "rehearsal twin" or "AWS account 123456789012"
	Rehearsal  bool              `json:"rehearsal,omitempty"`
	WindowEnd  time.Time         `json:"window_end,omitempty"`
	Approvals  int               `json:"approvals,omitempty"`
	PID        int               `json:"pid"`
	Executable string            `json:"executable,omitempty"`
	// RunbookSHA256 is the hash of the runbook text the run was created with (the journal's writer
	// sets it on the first record; a resume refuses a runbook.yaml that does not match).
	RunbookSHA256 string `json:"runbook_sha256,omitempty"`
}

// StepInfo is one step as a view lists it.
type StepInfo struct {
	ID          string `json:"id"`
	Title       string `json:"title"`
	Kind        string `json:"kind"`
	Notes       string `json:"notes,omitempty"`
	Destructive bool   `json:"destructive,omitempty"`
	Confirm     string `json:"confirm,omitempty"`
	// ConfirmValue is what a typed confirmation asks to type, as the plan knows it.
	ConfirmValue string `json:"confirm_value,omitempty"`
	// Phase is where the step runs relative to the runbook's window (before, window, after; "" when
	// the runbook marks none, and for cut-back steps).
	Phase     string   `json:"phase,omitempty"`
	AllowSkip bool     `json:"allow_skip,omitempty"`
	Approvals int      `json:"approvals,omitempty"`
	Actions   []string `json:"actions,omitempty"` // described actions, as in the plan
	Cutback   bool     `json:"cutback,omitempty"` // a runbook-defined cut-back step
	// OffPath says why the step is not on this path — its when: is false for these parameters —
	// as the plan says it ("" = on the path, or not known before the run).
	OffPath string `json:"off_path,omitempty"`
}

// CheckInfo is a step's check result.
type CheckInfo struct {
	State  string `json:"state"`
	Change string `json:"change,omitempty"`
	Reason string `json:"reason,omitempty"`
	Fix    string `json:"fix,omitempty"`
}

// Diagnostic is the check as the one diagnostic type, as steps.Check.Diagnostic makes it: the
// reason its summary, the fix what to do next.
func (c CheckInfo) Diagnostic(step string) Diag {
	return Diag{Address: step, Summary: c.Reason, Next: c.Fix}
}

// Diag is an error for the engineer: what failed, why and in what state things are, what to do next.
// It is the one diagnostic type (package diag), so every view prints it through diag's formatter.
type Diag = diag.Diagnostic

// Progress is measurable progress of the current step.
type Progress struct {
	Done  float64 `json:"done"`
	Total float64 `json:"total"`
	Unit  string  `json:"unit,omitempty"`
}

// Line is one line of step output (already redacted).
type Line struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// Child is a child process a step started.
type Child struct {
	PID       int    `json:"pid"`
	StartTick uint64 `json:"start_tick,omitempty"` // /proc/<pid>/stat field 22, to recognise it later
	Argv0     string `json:"argv0"`
	UID       int    `json:"uid"`           // its real uid when it started
	Sig       string `json:"sig,omitempty"` // the runner's HMAC over the fields above (see runner/leftovers.go)
}

// Duration marshals as nanoseconds and reads back the same.
type Duration = time.Duration
