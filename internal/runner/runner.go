package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/redact"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// Mode says what a runner process does.
type Mode string

// Modes.
const (
	ModeRun      Mode = "run"      // start or resume the run
	ModeRollback Mode = "rollback" // walk back a finished or abandoned run
)

// Config is everything a runner needs.
type Config struct {
	Run     *journal.Run
	Meta    journal.Meta
	Runbook *runbooks.Runbook
	Values  runbooks.Values // secret values included (in memory only)
	Actor   events.Actor    // the person the runner acts for
	Getenv  func(string) string
	Environ []string
	Now     func() time.Time
	Poll    time.Duration // how often to look for answers (default 150ms)
	Target  string
	Mode    Mode
}

// Runner drives one run.
type Runner struct {
	cfg     Config
	w       *journal.Writer
	red     *redact.Redactor
	mu      sync.Mutex
	outputs map[string]steps.Outputs // by step key, secret values included
	done    []string                 // keys applied by this run, in order (rollback walks them back)
	// partial are the step keys whose apply started in this run and did not end verified nor
	// rolled back — a failed apply or verify, a skip after one, a runner stopped mid-apply. What
	// they changed is not known, so a roll back undoes them too (their Rollback undoes what exists).
	partial map[string]bool
	// fresh: the step's latest apply started with the step not partial (nothing of an earlier
	// attempt in place), so an apply failing Unchanged leaves it clean.
	fresh map[string]bool
	// began orders the steps' applies (a counter, the latest apply of each key): a roll back walks
	// the done and the partial steps back newest first.
	began map[string]int
	// reads are the step keys whose last check said they only read (a preflight): applied, they
	// changed nothing, so they are not in done — nothing to undo, nothing to offer undoing.
	reads  map[string]bool
	status map[string]progress // how far each step key got, from the journal and this run
	// lostSecrets are steps whose secret outputs an earlier runner held in memory only.
	lostSecrets map[string]bool
	qcount      int
	goAsked     bool
	// ticked holds a checklist step's confirmation, by step key: the step's own checklist
	// question is answered by it rather than asked a second time.
	ticked  map[string]events.Answer
	skipped []string // steps skipped after a failure, named when the run finishes
	// journalErr is the first failure to write the journal; the run stops on it.
	journalErr error
	cancel     context.CancelFunc
	pending    []journal.InboxItem // pause requests until the next step (under mu)
	waiting    *waiter             // the question waiting on a person (under mu)
	pid        int
	where      inflight // the step and phase in flight, named if the runner is stopped
	key        []byte   // signs child records (leftovers.go); nil: none is trusted
}

// Run drives the run to its end and returns its final status. When ctx ends first (a signal, a
// take-over) the run ends Interrupted — never Succeeded — with the step in flight journaled as such.
func Run(ctx context.Context, cfg Config) (events.RunStatus, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Poll == 0 {
		cfg.Poll = 150 * time.Millisecond
	}
	tick, _ := proc.StartTick(os.Getpid()) // so a take-over can tell this runner from a pid reused later
	w, err := journal.OpenWriter(cfg.Run, journal.LockInfo{PID: os.Getpid(), StartTick: tick, Host: cfg.Actor.Host, User: cfg.Actor.User}, cfg.Now)
	if err != nil {
		return "", err
	}
	defer w.Close()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r := &Runner{cfg: cfg, w: w, red: redact.New(), outputs: map[string]steps.Outputs{}, status: map[string]progress{}, reads: map[string]bool{}, partial: map[string]bool{}, fresh: map[string]bool{}, began: map[string]int{}, lostSecrets: map[string]bool{}, cancel: cancel, pid: os.Getpid()}
	keyErr := r.loadKey()
	intake, err := journal.Listen(cfg.Run)
	if err != nil {
		return "", err
	}
	defer intake.Close()
	for _, v := range cfg.Values {
		if v.Secret {
			r.red.Add(v.S)
		}
	}
	prior, err := journal.ReadAll(cfg.Run)
	if err != nil {
		return "", fmt.Errorf("read journal: %w", err)
	}
	r.replay(prior)
	if len(prior) == 0 {
		r.emit(events.Event{Type: events.RunStarted, Actor: &cfg.Actor, Run: r.runInfo(ctx)})
	} else {
		r.emit(events.Event{Type: events.RunResumed, Actor: &cfg.Actor, Note: string(cfg.Mode)})
	}
	if keyErr != nil {
		r.emit(events.Event{Type: events.Note, Note: "child processes cannot be recorded with the runner's signature, so none will be stopped as a leftover: " + keyErr.Error()})
	}
	if len(prior) > 0 {
		r.killLeftovers(prior)
	}
	go intake.Serve(ctx, r.handle) // requests wait in the socket's backlog until the run is recorded
	var status events.RunStatus
	if cfg.Mode == ModeRollback {
		status = r.rollbackAll(ctx, "requested with cairn rollback")
	} else {
		status = r.runSteps(ctx)
	}
	if r.journalErr != nil {
		return events.Failed, fmt.Errorf("cannot write the journal of run %s, so the run stopped (state as the journal last recorded it): %w", cfg.Run.ID, r.journalErr)
	}
	if ctx.Err() != nil && status != events.Succeeded && status != events.RolledBack {
		// a question cut short or a step stopped mid-way reads as a failure or an abort to the code
		// that saw it; the truth is that the runner was stopped
		status = events.Interrupted
	}
	r.finish(context.WithoutCancel(ctx), status, context.Cause(ctx))
	return status, nil
}

// finish journals the run's end. ctx has no cancellation: the record is written whatever stopped
// the runner; cause is why the runner's context ended, if it did.
func (r *Runner) finish(ctx context.Context, status events.RunStatus, cause error) {
	note := ""
	if len(r.skipped) > 0 {
		note = "left undone by the engineer's choice: " + joinList(r.skipped)
	}
	if status == events.Interrupted {
		note = r.interrupted(cause)
	}
	if open := r.windowLeftOpen(); open != "" && status != events.Succeeded && status != events.RolledBack {
		note = joinNotes(open, note)
	}
	r.emit(events.Event{Type: events.RunFinished, Status: status, Actor: &r.cfg.Actor, Note: note})
}

func (r *Runner) runInfo(ctx context.Context) *events.RunInfo {
	env := r.baseEnv(ctx, "")
	infos := Describe(r.cfg.Runbook, r.cfg.Values, *env)
	return &events.RunInfo{
		ID: r.cfg.Run.ID, Runbook: r.cfg.Runbook.Name, Title: r.cfg.Runbook.Title,
		Params: r.cfg.Values.Plain(), Steps: infos, Target: r.cfg.Target,
		Rehearsal: r.cfg.Meta.Rehearsal, WindowEnd: r.cfg.Meta.WindowEnd, Approvals: r.cfg.Meta.Approvals,
	}
}

// replay rebuilds what earlier runners of this run did: outputs, completed steps, question count.
func (r *Runner) replay(prior []events.Event) {
	for _, e := range prior {
		switch e.Type {
		case events.QuestionAsked:
			r.qcount++
		case events.StepApplied:
			if len(e.Outputs) > 0 {
				o := steps.Outputs{}
				for k, v := range e.Outputs {
					if v == redact.Mask {
						r.lostSecrets[e.Step] = true // secret: not journaled; read again on resume
						continue
					}
					o[k] = steps.Output{Value: v}
				}
				r.outputs[e.Step] = o
			}
			r.status[e.Step] = applied
		case events.StepApplying:
			r.status[e.Step] = applying
			r.applying(e.Step)
		case events.StepChecked:
			r.reads[e.Step] = e.Check != nil && e.Check.Change == string(steps.Read)
		case events.StepVerified:
			r.status[e.Step] = verified
			// a journal written before AlreadyDone existed says it only in the note
			if !e.AlreadyDone && e.Note != alreadyDone && !r.reads[e.Step] {
				r.settled(e.Step)
			}
			delete(r.partial, e.Step)
		case events.StepSkipped:
			r.status[e.Step] = skippedStep
		case events.StepRolledBack:
			r.status[e.Step] = rolledBack
			r.done = remove(r.done, e.Step)
			delete(r.partial, e.Step)
		case events.StepFailed:
			if e.Unchanged {
				r.unchanged(e.Step)
			}
			if r.status[e.Step] != applied && r.status[e.Step] != applying {
				r.status[e.Step] = failedStep
			}
		}
		if e.Type == events.OutputLine {
			continue
		}
	}
	// list outputs journaled as lists come back as JSON? lists are journaled joined; see emitApplied.
}

// alreadyDone is the note of a step found done (events.Event.AlreadyDone), for the views.
const alreadyDone = "already done before this run"

func appendOnce(xs []string, x string) []string {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func remove(xs []string, x string) []string {
	out := xs[:0:0]
	for _, y := range xs {
		if y != x {
			out = append(out, y)
		}
	}
	return out
}

// emit writes a record, redacting every text field first.
func (r *Runner) emit(e events.Event) events.Event {
	if e.Error != nil {
		d := *e.Error
		d.Summary, d.Detail, d.State, d.Next = r.red.String(d.Summary), r.red.String(d.Detail), r.red.String(d.State), r.red.String(d.Next)
		e.Error = &d
	}
	if e.Line != nil {
		l := *e.Line
		l.Text = r.red.String(l.Text)
		e.Line = &l
	}
	e.Note = r.red.String(e.Note)
	if e.Check != nil {
		c := *e.Check
		c.Reason, c.Fix = r.red.String(c.Reason), r.red.String(c.Fix)
		e.Check = &c
	}
	for k, v := range e.Outputs {
		if v != redact.Mask {
			e.Outputs[k] = r.red.String(v)
		}
	}
	out, err := r.w.Append(e)
	if err != nil && r.journalErr == nil {
		// The journal is the source of truth: a run that cannot record what it does must stop.
		r.journalErr = err
		r.cancel()
	}
	return out
}

// lookup resolves references during the run.
func (r *Runner) lookup(item string) ref.Lookup {
	return func(x ref.Ref) (ref.Value, bool) {
		switch x.Scope {
		case ref.Params:
			return r.cfg.Values.Lookup(x)
		case ref.Item:
			return ref.Value{S: item}, item != ""
		case ref.Steps:
			r.mu.Lock()
			defer r.mu.Unlock()
			o, ok := r.outputs[x.Name]
			if !ok {
				// a foreach step: gather the item outputs as a list
				var list []string
				secret := false
				found := false
				for k, outs := range r.outputs {
					if id, _ := events.BaseID(k); id == x.Name && k != id {
						if v, ok := outs[x.Output]; ok {
							list = append(list, v.Value)
							secret = secret || v.Secret
							found = true
						}
					}
				}
				if found {
					return ref.Value{List: list, Secret: secret}, true
				}
				return ref.Value{Unknown: true}, true
			}
			v, ok := o[x.Output]
			if !ok {
				return ref.Value{Unknown: true}, true
			}
			return ref.Value{S: v.Value, List: v.List, Secret: v.Secret}, true
		}
		return ref.Value{}, false
	}
}

type sink struct {
	r   *Runner
	key string
}

func (s sink) Line(stream, text string) {
	s.r.emit(events.Event{Type: events.OutputLine, Step: s.key, Line: &events.Line{Stream: stream, Text: text}})
}

func (s sink) Progress(done, total float64, unit string) {
	s.r.emit(events.Event{Type: events.Progressed, Step: s.key, Progress: &events.Progress{Done: done, Total: total, Unit: unit}})
}

type children struct {
	r   *Runner
	key string
}

func (c children) Started(pid int, argv0 string) {
	c.r.emit(events.Event{Type: events.ChildStarted, Step: c.key, Child: c.r.childRecord(pid, argv0)})
}

func (c children) Exited(pid int) {
	c.r.emit(events.Event{Type: events.ChildExited, Step: c.key, Child: &events.Child{PID: pid}})
}

func (r *Runner) baseEnv(ctx context.Context, key string) *steps.Env {
	_, item := events.BaseID(key)
	return &steps.Env{
		StepID:   key,
		RunID:    r.cfg.Run.ID,
		Lookup:   r.lookup(item),
		Getenv:   r.cfg.Getenv,
		Environ:  r.cfg.Environ,
		Out:      sink{r, key},
		Secrets:  r.red.Add,
		Children: children{r, key},
		Now:      r.cfg.Now,
		WorkDir:  r.cfg.Run.Path(journal.WorkDir),
		Ask: func(ctx context.Context, q steps.Question) (steps.Answer, error) {
			if q.Kind == "checklist" {
				r.mu.Lock()
				a, ok := r.ticked[key]
				delete(r.ticked, key)
				r.mu.Unlock()
				if ok { // ticked with the step's confirmation, moments ago
					return steps.Answer{Yes: a.Yes, Value: a.Value, By: a.By.String()}, nil
				}
			}
			kind := events.AskChecklist
			switch q.Kind {
			case "yesno":
				kind = events.AskConfirm
			case "input":
				kind = events.AskInput
			}
			a, err := r.ask(ctx, events.Question{Kind: kind, Purpose: events.PurposeStep, Step: key, Prompt: q.Prompt, Items: q.Items, Secret: q.Secret})
			if err != nil {
				return steps.Answer{}, err
			}
			return steps.Answer{Yes: a.Yes || a.Choice == "yes", Value: a.Value, By: a.By.String()}, nil
		},
	}
}

// diag builds an engineer-facing error with the run's state. What to do next is next, or when
// that is "" the fix err carries (a *steps.FixError).
func (r *Runner) diag(summary string, err error, next string) *events.Diag {
	if next == "" {
		next = steps.FixOf(err)
	}
	d := diag.Diagnostic{Summary: summary, Next: next}
	if err != nil {
		d.Detail = err.Error()
	}
	return r.stated(d)
}

// stated is d with what state the run has left things in.
func (r *Runner) stated(d diag.Diagnostic) *events.Diag {
	var state []string
	if len(r.done) > 0 {
		state = append(state, "applied so far: "+strings.Join(r.done, ", "))
	}
	if p := r.partialKeys(); len(p) > 0 {
		state = append(state, "partially applied (apply started, not verified): "+strings.Join(p, ", "))
	}
	if len(state) == 0 {
		state = append(state, "no step of this run has changed anything yet")
	}
	d.State = strings.Join(state, "; ")
	return &d
}

var errAbort = errors.New("aborted")

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	out := ""
	for _, n := range notes {
		switch {
		case n == "":
		case out == "":
			out = n
		default:
			out += "; " + n
		}
	}
	return out
}
