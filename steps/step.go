// Package steps holds the step contract every step kind implements, the registry kinds are found in,
// and the values steps exchange with the runner. The kinds themselves live in domain packages
// (steps/pg, steps/generic, steps/host, …), each saying what it changes, what it never touches and
// what its rollback undoes; steps/all registers them.
package steps

import (
	"context"
	"errors"
	"fmt"

	"github.com/goccy/go-yaml/token"

	"github.com/cairn-runbooks/cairn/internal/diag"
)

// Step is one runbook step of some kind, decoded from the runbook's `with:` block. The runner calls
// Describe for plans, then, for each run: Check → (confirm) → Apply → Verify; and Rollback when the
// engineer asks to walk back. A step must be idempotent: Check after a successful Apply says Done.
type Step interface {
	// Describe lists the exact actions Apply will take — argv, SQL with its bind values, AWS calls
	// with their inputs — rendered through env.Describe so secrets show as •••• and values known only
	// after an earlier step as "(known after apply)". It touches nothing.
	Describe(env *Env) []Action

	// Check judges, from the target itself and never from cairn's own records, whether the step is
	// still to do, already done, or blocked (with the reason and the fix). It changes nothing. When
	// it cannot tell it says Unknown with the reason, rather than failing.
	Check(ctx context.Context, env *Env) Check

	// Apply does the work, streaming output lines and progress through env, and returns named
	// outputs (an output may be secret). It must leave the target either changed as described, or
	// as it was, or in a state its Check recognises (so a retry or resume can tell). A failure that
	// left the target as it was may say so (Unchanged): the step is then not rolled back. An error whose
	// fix it knows (as Apply, Verify and Rollback may) it returns as a *FixError (WithFix, Failed,
	// Check.Err) — the fix out of the error's text, for the runner to show as next:.
	Apply(ctx context.Context, env *Env) (Outputs, error)

	// Verify proves, with its own probe, that the work is in place. It changes nothing.
	Verify(ctx context.Context, env *Env) error

	// Rollback undoes Apply (a compensating action). It is also called for an Apply that stopped
	// half-way (it failed, or the runner was stopped) or never got to its work: it undoes what of
	// the step exists and does not fail on what does not, and a second call changes nothing. A
	// step that cannot be undone returns a *NotReversibleError saying why, and changes nothing.
	Rollback(ctx context.Context, env *Env) error
}

// Validator is implemented by steps that check their decoded parameters beyond their types.
// It is called at load time, before anything runs; errors should name the field and the fix.
type Validator interface {
	Validate() error
}

// OutputDeclarer is implemented by steps whose output names are known at load time, so the loader
// can refuse a reference to an output that will never exist.
type OutputDeclarer interface {
	OutputNames() []string
}

// Action is one thing a step will do, as a plan shows it.
type Action struct {
	Kind   ActionKind
	Target string // where: a host, a database, an AWS service
	Text   string // the exact command, statement or call, already rendered for display
}

// ActionKind classifies an action.
type ActionKind string

// Action kinds.
const (
	ActSQL    ActionKind = "sql"
	ActExec   ActionKind = "exec"
	ActAWS    ActionKind = "aws"
	ActFile   ActionKind = "file"
	ActManual ActionKind = "manual"
	ActWait   ActionKind = "wait"
)

// State is what Check found.
type State string

// Check states.
const (
	Ready   State = "ready"   // the work is to be done and can be
	Done    State = "done"    // the work is already in place: nothing to do
	Blocked State = "blocked" // the work cannot be done as things stand (Reason, Fix)
	Unknown State = "unknown" // the step cannot tell (Reason)
)

// Change is what applying would do, as in a Terraform plan.
type Change string

// Changes.
const (
	NoOp    Change = "no-op"
	Create  Change = "create"
	Update  Change = "change"
	Delete  Change = "delete"
	Replace Change = "replace"
	Read    Change = "read" // only reads (preflight, exports)
)

// Check is a step's answer before it runs.
type Check struct {
	State  State
	Change Change
	Reason string // "snapshot app-db-pre-kms already exists → nothing to do"
	Fix    string // for Blocked: what the engineer does about it
}

// Diagnostic is a blocked (or undecidable) check as the one diagnostic type, addressed to the
// step: the reason is its summary, the fix what to do next.
func (c Check) Diagnostic(step string) diag.Diagnostic {
	return diag.Diagnostic{Address: step, Summary: c.Reason, Next: c.Fix}
}

// Ready says the step has work to do.
func ReadyTo(c Change, reason string, args ...any) Check {
	return Check{State: Ready, Change: c, Reason: fmt.Sprintf(reason, args...)}
}

// AlreadyDone says the work is in place.
func AlreadyDone(reason string, args ...any) Check {
	return Check{State: Done, Change: NoOp, Reason: fmt.Sprintf(reason, args...)}
}

// BlockedBy says the step cannot run, why, and what to do.
func BlockedBy(reason, fix string) Check {
	return Check{State: Blocked, Reason: reason, Fix: fix}
}

// CannotTell says the step cannot judge.
func CannotTell(reason string, args ...any) Check {
	return Check{State: Unknown, Reason: fmt.Sprintf(reason, args...)}
}

// Outputs are a step's named results.
type Outputs map[string]Output

// Output is one named result.
type Output struct {
	Value  string   `json:"value,omitempty"`
	List   []string `json:"list,omitempty"`
	Secret bool     `json:"secret,omitempty"`
}

// Set adds a plain output and returns the map (for chaining in small kinds).
func (o Outputs) Set(name, value string) Outputs { o[name] = Output{Value: value}; return o }

// NotReversibleError says a step cannot be rolled back, and why.
type NotReversibleError struct{ Reason string }

func (e *NotReversibleError) Error() string { return "cannot be rolled back: " + e.Reason }

// NotReversible builds a *NotReversibleError.
func NotReversible(reason string, args ...any) error {
	return &NotReversibleError{Reason: fmt.Sprintf(reason, args...)}
}

// IsNotReversible reports whether err says the step cannot be rolled back.
func IsNotReversible(err error) bool {
	var nr *NotReversibleError
	return errors.As(err, &nr)
}

// UnchangedError is an Apply failure that changed nothing: the apply refused before its first
// change, or its one transaction was rolled back. The runner then does not count the step as
// partially applied, so a roll back does not undo it. Only an apply that knows it changed nothing
// says so; any other failure is taken as possibly half-way.
type UnchangedError struct{ Err error }

func (e *UnchangedError) Error() string { return e.Err.Error() }

func (e *UnchangedError) Unwrap() error { return e.Err }

// Unchanged is err said to have changed nothing (nil when err is nil).
func Unchanged(err error) error {
	if err == nil {
		return nil
	}
	return &UnchangedError{Err: err}
}

// IsUnchanged reports whether err says the apply changed nothing.
func IsUnchanged(err error) bool {
	var ue *UnchangedError
	return errors.As(err, &ue)
}

// VerifyError is a failed verification: what was expected and what was found.
type VerifyError struct {
	What     string
	Expected string
	Found    string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("verify %s: expected %s, found %s", e.What, e.Expected, e.Found)
}

// FixError is a failure that knows its fix: what the engineer does about it, as a blocked Check's
// Fix says. Apply, Verify and Rollback return it (WithFix, Check.Err) so the runner shows the fix as
// the diagnostic's next: line; its text is the failure alone, so the fix is never shown twice.
type FixError struct {
	Err error  // what failed, why, and what state it left
	Fix string // the exact next command or action
}

func (e *FixError) Error() string { return e.Err.Error() }

func (e *FixError) Unwrap() error { return e.Err }

// Diagnostic is the failure as a finding: its text the summary, its fix what to do next.
func (e *FixError) Diagnostic() diag.Diagnostic {
	return diag.Diagnostic{Summary: e.Err.Error(), Next: e.Fix}
}

// WithFix is err carrying fix (nil when err is nil).
func WithFix(err error, fix string) error {
	if err == nil {
		return nil
	}
	return &FixError{Err: err, Fix: fix}
}

// Failed is an error with the text format makes, and fix.
func Failed(fix, format string, args ...any) error {
	return &FixError{Err: fmt.Errorf(format, args...), Fix: fix}
}

// FixOf is the fix err carries, or "".
func FixOf(err error) string {
	var fe *FixError
	if errors.As(err, &fe) {
		return fe.Fix
	}
	return ""
}

// FixOr is the fix err carries, or fix when it carries none.
func FixOr(err error, fix string) string {
	if f := FixOf(err); f != "" {
		return f
	}
	return fix
}

// Err is a blocked check as an Apply's error: the reason, carrying the fix.
func (c Check) Err() error { return &FixError{Err: errors.New(c.Reason), Fix: c.Fix} }

// Observer is implemented by steps with outputs: when Check finds the work already done, the runner
// calls Observe to read those outputs from the target (read-only) instead of applying again.
type Observer interface {
	Observe(ctx context.Context, env *Env) (Outputs, error)
}

// ValueError is a value a kind's own YAML decoding refuses, with the token it refused: the loader
// reports it at that line, naming the step and the field.
type ValueError struct {
	Token *token.Token
	Msg   string // "want a duration such as 2s, 90s or 10m (a number needs its unit), got \"2\""
}

func (e *ValueError) Error() string { return e.Msg }
