// Package plan is `cairn plan <runbook>`: every action a run would take — argv of commands, SQL
// with its bound values, AWS calls — with secrets as •••• and values known only after an earlier
// step as (known after apply); with --check, each step's read-only check against the real targets,
// and a headline that never claims more than the checks saw. It changes nothing anywhere.
package plan

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

// PlanOptions are what `cairn plan` was given.
type PlanOptions struct {
	// Factory gives the environment the steps describe and check in.
	Factory *cmdutil.Factory

	Runbook string
	// Files are the --file runbooks, loaded beside the built-in ones.
	Files       []string
	Params      []string
	SecretFiles []string
	Check       bool
}

// NewCmdPlan builds `cairn plan`; runF replaces planRun in tests.
func NewCmdPlan(f *cmdutil.Factory, runF func(context.Context, *PlanOptions) error) *cobra.Command {
	opts := &PlanOptions{Factory: f}
	cmd := &cobra.Command{
		Use:   "plan <runbook> [-p name=value…]",
		Short: "Show every action a run would take: commands, SQL, AWS calls",
		Long: `Show every action a run would take — argv of commands, SQL with its bound values, AWS calls —
with secrets as •••• and values known only after an earlier step as (known after apply).
--check also runs each step's read-only check against the real targets.`,
		Args: cmdutil.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Runbook, opts.Files = args[0], cmdutil.RunbookFiles(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return planRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringArrayVarP(&opts.Params, "param", "p", nil, "parameter `name=value` (repeatable)")
	cmd.Flags().StringArrayVar(&opts.SecretFiles, "secret-file", nil, "read secret parameter from a 0600 file: `name=path`")
	cmd.Flags().BoolVar(&opts.Check, "check", false, "also run every step's read-only check against the real targets")
	return cmd
}

func planRun(ctx context.Context, opts *PlanOptions) error {
	f := opts.Factory
	rb, given, err := shared.RunbookAndParams(opts.Files, opts.Runbook, opts.Params)
	if err != nil {
		return err
	}
	src, err := shared.Sources(f, opts.SecretFiles, true)
	if err != nil {
		return err
	}
	vals, err := runbooks.Resolve(rb, given, src)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "cairn-plan-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	env := shared.PlanEnv(f, dir)
	infos := runner.Describe(rb, vals, env)
	var checks map[string]runner.PlanCheck
	if opts.Check {
		checks = runner.CheckAll(ctx, rb, vals, env)
	}
	fmt.Fprintf(f.IO.Out, "Target: %s\n\n", launch.Target(ctx, f.Getenv))
	WritePlan(f.IO.Out, rb, vals, infos, checks)
	return blocked(rb, checks)
}

// blocked is exit status 9 when a check found a step on this path blocked as things stand, so a
// scripted gate before the window fails. A step that cannot tell is not blocked: the gate passes
// and the headline says how many could not be checked.
func blocked(rb *runbooks.Runbook, checks map[string]runner.PlanCheck) error {
	var ids []string
	for _, s := range rb.Steps {
		if checks[s.ID].Status == runner.PlanBlocked {
			ids = append(ids, s.ID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	return &exitcode.Err{Code: exitcode.Blocked, Err: fmt.Errorf("blocked as things stand: %s — each one's check above says why and what to do; nothing was changed, fix and run `cairn plan --check` again", strings.Join(ids, ", "))}
}

// WritePlan writes a plan as Markdown-flavoured text (readable in a terminal, pasteable in a ticket).
func WritePlan(w io.Writer, rb *runbooks.Runbook, vals runbooks.Values, infos []events.StepInfo, checks map[string]runner.PlanCheck) {
	fmt.Fprintf(w, "# Plan: %s — %s\n\n", rb.Name, rb.Title)
	for _, p := range rb.Parameters {
		if _, ok := vals[p.Name]; ok {
			fmt.Fprintf(w, "- %s = %s\n", p.Name, vals.Display(p))
		}
	}
	fmt.Fprintln(w)
	counts := map[runner.PlanStatus]int{}
	phase := runbooks.PhaseNone
	for i, si := range infos {
		if p := runbooks.Phase(si.Phase); p != phase && !si.Cutback {
			fmt.Fprintf(w, "# %s\n\n", p.Heading())
			phase = p
		}
		head := fmt.Sprintf("## %d. %s — %s", i+1, si.ID, si.Title)
		if si.Cutback {
			head = fmt.Sprintf("## cut-back: %s — %s", si.ID, si.Title)
		}
		if si.Destructive {
			head += "  ⚠ DESTRUCTIVE"
		}
		fmt.Fprintln(w, head)
		if mark := confirmMark(si); mark != "" {
			fmt.Fprintln(w, "   "+mark)
		}
		if ch, ok := checks[si.ID]; !ok && si.OffPath != "" {
			fmt.Fprintf(w, "   %s — %s\n", runner.PlanNotOnPath, si.OffPath)
		} else if ok {
			counts[ch.Status]++
			head := fmt.Sprintf("check: %s", ch.Status)
			if ch.After != "" {
				head += " — after " + ch.After
				ch.Reason = "as things stand: " + ch.Reason
			}
			if ch.Reason != "" {
				head += " — "
			}
			for _, l := range diag.Headed(head, ch.Diagnostic("")) {
				fmt.Fprintln(w, "   "+l)
			}
		}
		fmt.Fprintln(w, "```")
		for _, a := range si.Actions {
			fmt.Fprintln(w, a)
		}
		fmt.Fprintln(w, "```")
		fmt.Fprintln(w)
	}
	if checks != nil {
		// the headline never claims more than the checks saw
		fmt.Fprintln(w, runner.Headline(counts))
	} else {
		off := 0
		for _, si := range infos {
			if !si.Cutback && si.OffPath != "" {
				off++
			}
		}
		if off > 0 {
			fmt.Fprintf(w, "Plan: %d steps, %d %s (not checked against the targets: add --check).\n", len(rb.Steps)-off, off, runner.PlanNotOnPath)
		} else {
			fmt.Fprintf(w, "Plan: %d steps (not checked against the targets: add --check).\n", len(rb.Steps))
		}
	}
}

// confirmMark says how a step is confirmed and what answers it when no one is there ("" for none).
func confirmMark(si events.StepInfo) string {
	switch runbooks.Confirm(si.Confirm) {
	case runbooks.ConfirmYes:
		return "(confirmation: yes/no — `--yes` answers it)"
	case runbooks.ConfirmTyped:
		return fmt.Sprintf("(typed confirmation: type %s — `--confirm %s=%s`; `--yes` does not answer it)", si.ConfirmValue, si.ID, si.ConfirmValue)
	}
	return ""
}
