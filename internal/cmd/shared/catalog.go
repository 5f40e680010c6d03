package shared

import (
	"fmt"
	"os"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
)

// Catalog loads the built-in runbooks and those in files, with the registry of step kinds.
func Catalog(files []string) (*runbooks.Catalog, *steps.Registry, error) {
	reg := all.Registry()
	c, err := runbooks.LoadCatalog(reg, files...)
	return c, reg, err
}

// PlanEnv is the environment steps describe and check in, outside a run.
func PlanEnv(f *cmdutil.Factory, dir string) steps.Env {
	return steps.Env{Getenv: f.Getenv, Environ: os.Environ(), Out: discard{}, Secrets: func(string) {}, WorkDir: dir}
}

type discard struct{}

func (discard) Line(string, string)               {}
func (discard) Progress(float64, float64, string) {}

// RunbookAndParams finds a runbook by name and parses the -p flags given for it.
func RunbookAndParams(files []string, name string, params []string) (*runbooks.Runbook, map[string]string, error) {
	c, _, err := Catalog(files)
	if err != nil {
		return nil, nil, err
	}
	rb, err := c.Get(name)
	if err != nil {
		return nil, nil, err
	}
	given, err := runbooks.ParseAssignments(params)
	if err != nil {
		return nil, nil, cmdutil.FlagErrorWrap(err)
	}
	return rb, given, nil
}

// RunRunbook loads the runbook a run started with, from the run's own copy of its text.
func RunRunbook(run *journal.Run) (*runbooks.Runbook, journal.Meta, error) {
	meta, err := run.Meta()
	if err != nil {
		return nil, meta, err
	}
	text, err := run.Runbook()
	if err != nil {
		return nil, meta, err
	}
	_, reg, err := Catalog(nil)
	if err != nil {
		return nil, meta, err
	}
	rb, err := runbooks.Load(meta.Source, text, reg)
	if err != nil {
		return nil, meta, fmt.Errorf("the run's own copy of its runbook no longer loads with this cairn: %w", err)
	}
	return rb, meta, nil
}
