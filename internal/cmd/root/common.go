package root

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/internal/plainview"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"golang.org/x/term"
)

func catalog(files []string) (*runbooks.Catalog, *steps.Registry, error) {
	reg := all.Registry()
	c, err := runbooks.LoadCatalog(reg, files...)
	return c, reg, err
}

// planEnv is the environment steps describe and check in, outside a run.
func planEnv(f *cmdutil.Factory, dir string) steps.Env {
	return steps.Env{Getenv: f.Getenv, Environ: os.Environ(), Out: discard{}, Secrets: func(string) {}, WorkDir: dir}
}

type discard struct{}

func (discard) Line(string, string)               {}
func (discard) Progress(float64, float64, string) {}

// sources says where secrets come from for this invocation.
func sources(f *cmdutil.Factory, secretFiles []string, planOnly bool) (runbooks.Sources, error) {
	files, err := runbooks.ParseAssignments(secretFiles)
	if err != nil {
		return runbooks.Sources{}, fmt.Errorf("--secret-file: %w", err)
	}
	src := runbooks.Sources{Getenv: f.Getenv, SecretFiles: files, PlanOnly: planOnly}
	if !planOnly && stdinIsTerminal() {
		src.Prompt = func(p *runbooks.Param) (string, error) {
			fmt.Fprintf(f.IO.ErrOut, "%s (%s; not echoed): ", p.Name, p.Help)
			b, err := term.ReadPassword(int(os.Stdin.Fd()))
			fmt.Fprintln(f.IO.ErrOut)
			return string(b), err
		}
	}
	return src, nil
}

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

// follow renders a run in plain lines until it ends; interactive answers from stdin when it is a terminal.
func follow(ctx context.Context, f *cmdutil.Factory, run *journal.Run, readOnly bool, after int64) events.RunStatus {
	v := &plainview.View{Out: f.IO.Out, Who: launch.Who(f.Getenv), RunID: run.ID, ReadOnly: readOnly,
		Answer: func(ctx context.Context, a events.Answer) error {
			rep, err := tell(ctx, f, run, journal.Request{Kind: journal.AskAnswer, Via: "plain", Answer: &a})
			if err != nil {
				return err
			}
			return replyErr(rep)
		}}
	if !readOnly && stdinIsTerminal() {
		v.In = bufio.NewReader(os.Stdin)
	}
	return v.Render(ctx, journal.FollowAfter(ctx, run, pollEvery, after))
}

// askSecretsAgain resolves a run's secret parameters again (resume, rollback): they were never stored.
func askSecretsAgain(f *cmdutil.Factory, rb *runbooks.Runbook, meta journal.Meta, secretFiles []string) (map[string]string, error) {
	src, err := sources(f, secretFiles, false)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	var missing []string
	for _, name := range meta.Secrets {
		var p *runbooks.Param
		for _, x := range rb.Parameters {
			if x.Name == name {
				p = x
			}
		}
		if p == nil {
			continue
		}
		vals, err := runbooks.Resolve(&runbooks.Runbook{Name: rb.Name, Parameters: []*runbooks.Param{p}}, nil, src)
		if err != nil {
			missing = append(missing, err.Error())
			continue
		}
		if v, ok := vals[name]; ok {
			out[name] = v.S
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("secrets are never stored, so a resumed run needs them again:\n%s", strings.Join(missing, "\n"))
	}
	return out, nil
}

// runbookAndParams finds a runbook by name and parses the -p flags given for it.
func runbookAndParams(files []string, name string, params []string) (*runbooks.Runbook, map[string]string, error) {
	c, _, err := catalog(files)
	if err != nil {
		return nil, nil, err
	}
	rb, err := c.Get(name)
	if err != nil {
		return nil, nil, err
	}
	given, err := runbooks.ParseAssignments(params)
	if err != nil {
		return nil, nil, &usageErr{err}
	}
	return rb, given, nil
}

// runRunbook loads the runbook a run started with, from the run's own copy of its text.
func runRunbook(run *journal.Run) (*runbooks.Runbook, journal.Meta, error) {
	meta, err := run.Meta()
	if err != nil {
		return nil, meta, err
	}
	text, err := run.Runbook()
	if err != nil {
		return nil, meta, err
	}
	_, reg, err := catalog(nil)
	if err != nil {
		return nil, meta, err
	}
	rb, err := runbooks.Load(meta.Source, text, reg)
	if err != nil {
		return nil, meta, fmt.Errorf("the run's own copy of its runbook no longer loads with this cairn: %w", err)
	}
	return rb, meta, nil
}
