package shared

import (
	"context"
	"fmt"
	"os"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui"
)

// runSource is a run seen through its directory: the journal followed; answers and notes go to
// its live runner over the run's socket.
type runSource struct {
	f   *cmdutil.Factory
	run *journal.Run
	ch  <-chan events.Event
	who events.Actor
}

func newRunSource(ctx context.Context, f *cmdutil.Factory, run *journal.Run, who events.Actor, after int64) *runSource {
	who.Via = "tui"
	return &runSource{f: f, run: run, ch: journal.FollowAfter(ctx, run, PollEvery, after), who: who}
}

func (s *runSource) Events() <-chan events.Event { return s.ch }
func (s *runSource) RunID() string               { return s.run.ID }

func (s *runSource) Answer(ctx context.Context, a events.Answer) error {
	rep, err := Tell(ctx, s.f.Getenv, s.run, journal.Request{Kind: journal.AskAnswer, Via: "tui", Answer: &a})
	if err != nil {
		return err
	}
	return ReplyErr(rep)
}

func (s *runSource) Note(ctx context.Context, text string) error {
	rep, err := Tell(ctx, s.f.Getenv, s.run, journal.Request{Kind: journal.AskNote, Via: "tui", Text: text})
	if err != nil {
		return err
	}
	return ReplyErr(rep)
}

// tuiDeps builds what the TUI is given: everything domain-side stays here.
func tuiDeps(ctx context.Context, f *cmdutil.Factory, files []string, o *RunFlags, windowEnd time.Time, readOnly bool) (tui.Deps, error) {
	c, _, err := Catalog(files)
	if err != nil {
		return tui.Deps{}, err
	}
	who := launch.Who(f.Getenv)
	state := f.StateDir()
	d := tui.Deps{
		Runbooks:  c.All(),
		Target:    launch.Target(ctx, f.Getenv),
		WindowEnd: windowEnd,
		ReadOnly:  readOnly,
		Now:       time.Now,
		Lookup:    lookup.Run,
	}
	d.Runs = func() ([]tui.RunSummary, error) {
		runs, err := ListRuns(state)
		var out []tui.RunSummary
		for _, r := range runs {
			if r.Final == events.Succeeded || r.Final == events.RolledBack || r.Final == events.Aborted {
				continue
			}
			out = append(out, tui.RunSummary{ID: r.ID, Runbook: r.Runbook, Status: r.Status, Started: r.Started, Current: r.Current})
		}
		return out, err
	}
	d.Resolve = func(rb *runbooks.Runbook, given map[string]string) (runbooks.Values, error) {
		plain := map[string]string{}
		typed := map[string]string{}
		for _, p := range rb.Parameters {
			if v, ok := given[p.Name]; ok {
				if p.Secret {
					typed[p.Name] = v
				} else {
					plain[p.Name] = v
				}
			}
		}
		files := []string(nil)
		if o != nil {
			files = o.SecretFiles
		}
		src, err := Sources(f, files, false)
		if err != nil {
			return nil, err
		}
		src.Prompt = func(p *runbooks.Param) (string, error) { return typed[p.Name], nil }
		return runbooks.Resolve(rb, plain, src)
	}
	d.Plan = func(rb *runbooks.Runbook, vals runbooks.Values) ([]events.StepInfo, error) {
		dir, err := os.MkdirTemp("", "cairn-plan-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		return runner.Describe(rb, vals, PlanEnv(f, dir)), nil
	}
	d.Start = func(ctx context.Context, rb *runbooks.Runbook, vals runbooks.Values, so tui.StartOptions) (tui.RunSource, error) {
		ro := RunFlags{}
		if o != nil {
			ro = *o
		}
		policy, err := ro.Policy(true)
		if err != nil {
			return nil, err
		}
		run, err := launch.NewRun(state, rb, vals, policy, who, time.Now(), func(m *journal.Meta) {
			m.Rehearsal, m.WindowEnd, m.Approvals = so.Rehearsal, so.WindowEnd, so.Approvals
		})
		if err != nil {
			return nil, err
		}
		if _, err := launch.Start(f.Executable, run, "run", launch.Secrets(vals), launch.Environ(rb, os.Environ())); err != nil {
			return nil, err
		}
		return newRunSource(ctx, f, run, who, 0), nil
	}
	d.Attach = func(ctx context.Context, id string) (tui.RunSource, error) {
		if err := cmdutil.CheckRunID(id); err != nil {
			return nil, err
		}
		run, err := journal.Open(state, id)
		if err != nil {
			return nil, err
		}
		after := int64(0)
		if !readOnly && !journal.Live(ctx, run) {
			after = journal.LastSeq(run)
			if err := resumeQuietly(f, run); err != nil {
				return nil, err
			}
		}
		return newRunSource(ctx, f, run, who, after), nil
	}
	d.Timings = func(name string) map[string]time.Duration { return journal.RehearsalTimings(state, name) }
	d.Twin = func(run events.RunInfo, started time.Time) []events.Event {
		if r, ok := journal.Twin(state, run, started); ok {
			return r.Records
		}
		return nil
	}
	return d, nil
}

// resumeQuietly starts a runner on an unfinished run without prompting (the TUI owns the terminal):
// secrets must come from their environment variables or --secret-file.
func resumeQuietly(f *cmdutil.Factory, run *journal.Run) error {
	rb, meta, err := RunRunbook(run)
	if err != nil {
		return err
	}
	src := runbooks.Sources{Getenv: f.Getenv}
	secrets := map[string]string{}
	for _, name := range meta.Secrets {
		for _, p := range rb.Parameters {
			if p.Name == name {
				vals, err := runbooks.Resolve(&runbooks.Runbook{Name: rb.Name, Parameters: []*runbooks.Param{p}}, nil, src)
				if err != nil {
					return fmt.Errorf("resume %s: %w (or `cairn resume %s` in a shell, which asks)", run.ID, err, run.ID)
				}
				secrets[name] = vals[name].S
			}
		}
	}
	meta.Policy.Interactive = true
	if err := WriteMeta(run, meta); err != nil {
		return err
	}
	_, err = launch.Start(f.Executable, run, "run", secrets, launch.Environ(rb, os.Environ()))
	return err
}

// runProgram runs a TUI model and reports how it ended.
func runProgram(ctx context.Context, f *cmdutil.Factory, m tui.Model) error {
	final, err := tea.NewProgram(m, tea.WithContext(ctx)).Run()
	if err != nil && err != tea.ErrProgramKilled {
		return err
	}
	if fm, ok := final.(tui.Model); ok {
		if msg := fm.LeaveMessage(); msg != "" {
			fmt.Fprintln(f.IO.ErrOut, msg)
			return &exitcode.Err{Code: exitcode.Detached}
		}
		if rs := fm.RunState(); rs != nil && rs.Status == events.Interrupted {
			// the screen said why (a signal, or a runner that died); the shell gets it too
			return &exitcode.Err{Code: exitcode.Interrupted, Err: fmt.Errorf("run %s interrupted — %s; next: cairn resume %s", rs.Info.ID, rs.FinishNote, rs.Info.ID)}
		}
	}
	return nil
}

// RunHome opens the wizard on Home.
func RunHome(ctx context.Context, f *cmdutil.Factory, files []string) error {
	d, err := tuiDeps(ctx, f, files, nil, time.Time{}, false)
	if err != nil {
		return err
	}
	return runProgram(ctx, f, tui.New(d, tui.WithContext(ctx)))
}

// RunTUI opens the wizard on a runbook's Parameters page, prefilled from -p.
func RunTUI(ctx context.Context, f *cmdutil.Factory, rb *runbooks.Runbook, given map[string]string, o *RunFlags, so tui.StartOptions) error {
	d, err := tuiDeps(ctx, f, nil, o, so.WindowEnd, false)
	if err != nil {
		return err
	}
	d.Runbooks = append(d.Runbooks, rb)
	d.Prefill = given
	return runProgram(ctx, f, tui.New(d, tui.WithContext(ctx), tui.WithRunbook(rb), tui.WithStartOptions(so)))
}

// AttachTUI opens the Run screen on an existing run (attach, follow, resume).
func AttachTUI(ctx context.Context, f *cmdutil.Factory, run *journal.Run, readOnly bool, after int64) error {
	d, err := tuiDeps(ctx, f, nil, nil, time.Time{}, readOnly)
	if err != nil {
		return err
	}
	if meta, err := run.Meta(); err == nil {
		d.WindowEnd = meta.WindowEnd
	}
	return runProgram(ctx, f, tui.NewRunView(d, newRunSource(ctx, f, run, launch.Who(f.Getenv), after), tui.WithContext(ctx)))
}
