package tui

import (
	"context"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// RunSource is one run as the TUI sees it. The runner lives in its own process; the TUI only reads its
// records and answers its questions through this interface.
type RunSource interface {
	// Events replays the run from its start, then follows it live. It is closed when the run ends or
	// the context the source was made with is done.
	Events() <-chan events.Event
	// Answer answers the open question (Answer.QuestionID, Yes, Choice, Value). The TUI never sets By.
	Answer(ctx context.Context, a events.Answer) error
	// Note records an engineer's note in the journal.
	Note(ctx context.Context, text string) error
	// RunID is the run's id, as `cairn attach <id>` takes it.
	RunID() string
}

// RunSummary is an unfinished run as Home lists it.
type RunSummary struct {
	ID, Runbook, Status string
	Started             time.Time
	Current             string // the step it stands at
}

// StartOptions are the run options the wizard passes to Start.
type StartOptions struct {
	Rehearsal bool
	WindowEnd time.Time
	Approvals int
}

// Deps is everything the TUI consumes. Functions may be nil where noted.
type Deps struct {
	Runbooks []*runbooks.Runbook
	// Runs lists unfinished runs for Home (nil: none).
	Runs func() ([]RunSummary, error)
	// Resolve fills defaults (derived ones too) and checks types. given holds what the engineer typed
	// in the form, secret parameters included (typed at a terminal, masked): route those through
	// runbooks.Sources.Prompt, never treat them as -p flags.
	Resolve func(rb *runbooks.Runbook, given map[string]string) (runbooks.Values, error)
	// Lookup lists a parameter's candidates for the form (`choices:`); nil: plain inputs.
	Lookup func(ctx context.Context, l runbooks.Lookup, in lookup.Inputs) lookup.Result
	// Plan lists the steps with their described actions.
	Plan func(rb *runbooks.Runbook, vals runbooks.Values) ([]events.StepInfo, error)
	// Start starts a run in the runner's process and returns its source.
	Start func(ctx context.Context, rb *runbooks.Runbook, vals runbooks.Values, o StartOptions) (RunSource, error)
	// Attach follows (or resumes) an unfinished run chosen on Home.
	Attach func(ctx context.Context, runID string) (RunSource, error)
	// Timings gives per-step durations from earlier rehearsals (may be nil, or return nil).
	Timings func(runbook string) map[string]time.Duration
	// Twin gives the records of the rehearsal a run is compared with on its timeline
	// (journal.Twin), or nil; it is asked once the run's first record names the run.
	Twin func(run events.RunInfo, started time.Time) []events.Event
	// Now is the clock (tests fix it); nil means time.Now.
	Now func() time.Time
	// After is the timer a question's type-ahead guard waits on before its keys count (tests
	// release it by hand); nil means time.After.
	After func(time.Duration) <-chan time.Time
	// Prefill holds -p values; they become the form's initial values.
	Prefill map[string]string
	// Target is what the run acts on: "rehearsal twin" or "AWS account 123456789012".
	Target string
	// WindowEnd is the maintenance window's end; zero means no window.
	WindowEnd time.Time
	// ReadOnly is cairn follow: everything is shown, nothing is answered, no key changes anything.
	ReadOnly bool
}

func (d Deps) now() time.Time {
	if d.Now != nil {
		return d.Now()
	}
	return time.Now()
}
