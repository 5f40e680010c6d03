package shared

import (
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// Sources says where secrets come from for this invocation: the environment, --secret-file, and
// (outside a plan, when a person can answer) a prompt that does not echo.
func Sources(f *cmdutil.Factory, secretFiles []string, planOnly bool) (runbooks.Sources, error) {
	files, err := runbooks.ParseAssignments(secretFiles)
	if err != nil {
		return runbooks.Sources{}, fmt.Errorf("--secret-file: %w", err)
	}
	src := runbooks.Sources{Getenv: f.Getenv, SecretFiles: files, PlanOnly: planOnly}
	if !planOnly && f.IO.CanPrompt() {
		src.Prompt = func(p *runbooks.Param) (string, error) {
			fmt.Fprintf(f.IO.ErrOut, "%s (%s; not echoed): ", p.Name, p.Help)
			s, err := f.IO.ReadSecret()
			fmt.Fprintln(f.IO.ErrOut)
			return s, err
		}
	}
	return src, nil
}

// AskSecretsAgain resolves a run's secret parameters again (resume, rollback): they were never stored.
func AskSecretsAgain(f *cmdutil.Factory, rb *runbooks.Runbook, meta journal.Meta, secretFiles []string) (map[string]string, error) {
	src, err := Sources(f, secretFiles, false)
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
