package steps

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
)

// Env is what a step is given for one call: how to resolve its references, where its output goes,
// how to ask the engineer, and the process environment it runs in. The runner builds one per call.
type Env struct {
	// StepID is the id of the step in its runbook (with the foreach item, when there is one).
	StepID string
	// RunID is the id of the run the step belongs to ("" for a plan outside a run). Artifacts a
	// step leaves for later steps carry it, so another run's look-alike is never taken as done.
	RunID string
	// Lookup resolves ${params.x}, ${steps.id.out} and ${item}.
	Lookup ref.Lookup
	// Getenv reads the environment cairn runs in (libpq's PG* variables, AWS_* …).
	Getenv func(string) string
	// Environ is that environment as KEY=VALUE pairs, the base of every child's environment.
	Environ []string
	// Out receives output lines and progress.
	Out Sink
	// Ask puts a question to the engineer (a manual step's checklist). It blocks until answered.
	Ask func(ctx context.Context, q Question) (Answer, error)
	// Secrets registers a value that must be redacted from every output line from now on.
	Secrets func(value string)
	// Children records child processes, so a resumed run can find and stop leftovers.
	Children ChildRecorder
	// Now is the clock.
	Now func() time.Time
	// WorkDir is the run's private directory (0700) for files a step must keep (dumps go elsewhere).
	WorkDir string
}

// Sink receives what a step says while it works. It must be safe for concurrent use.
type Sink interface {
	// Line is one line of output; stream is "stdout", "stderr" or "info".
	Line(stream, text string)
	// Progress reports measurable progress: done of total, in unit ("%", "tables", "bytes").
	Progress(done, total float64, unit string)
}

// ChildRecorder is told about each child process a step starts and when it ends.
type ChildRecorder interface {
	Started(pid int, argv0 string)
	Exited(pid int)
}

// Question is something a step asks the engineer.
type Question struct {
	Kind   string   // "checklist", "yesno", "input"
	Prompt string   // what is asked
	Items  []string // checklist items
	Secret bool     // an input that must not be echoed or recorded
}

// Answer is the engineer's reply.
type Answer struct {
	Yes   bool
	Value string
	By    string // who answered
}

// Text resolves a template to text for this step.
func (e *Env) Text(t ref.Template) (string, error) { return t.Text(e.Lookup) }

// OptionalText is Text for a field that may be bound to an optional parameter: a template whose one
// reference is ${params.x}, x given no value, reads as "".
func (e *Env) OptionalText(t ref.Template) (string, error) {
	s, err := e.Text(t)
	if errors.Is(err, ref.ErrNoValue) && len(t.Refs()) == 1 && t.Refs()[0].Scope == ref.Params {
		return "", nil
	}
	return s, err
}

// Flag resolves a yes/no template the one way cairn reads one (ref.ParseBool); one not given,
// empty, or bound to an optional parameter not given, is false.
func (e *Env) Flag(t ref.Template) (bool, error) {
	s, err := e.OptionalText(t)
	if err != nil || strings.TrimSpace(s) == "" {
		return false, err
	}
	return ref.ParseBool(s)
}

// DescribeRunID is the run id as a plan shows it: outside a run, where the id is not made yet,
// "<this run's id>".
func (e *Env) DescribeRunID() string {
	if e.RunID == "" {
		return "<this run's id>"
	}
	return e.RunID
}

// Describe renders a template for a plan.
func (e *Env) Describe(t ref.Template) string { return t.Describe(e.Lookup) }

// SQL renders a template as a statement with bind arguments.
func (e *Env) SQL(t ref.Template) (string, []any, error) { return t.SQL(e.Lookup) }

// Info writes an informational line.
func (e *Env) Info(text string) {
	if e.Out != nil {
		e.Out.Line("info", text)
	}
}

// Env returns a variable from cairn's environment.
func (e *Env) Env(key string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(key)
}
