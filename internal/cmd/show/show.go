// Package show is `cairn show`: a runbook's parameters (type, required, secret and where from,
// default, choices) and steps (destructive ones marked, cut-back steps apart); with --kind, a step
// kind's `with:` fields read from its decoding struct; with --kinds, every kind and its summary.
package show

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

// ShowOptions are what `cairn show` was given.
type ShowOptions struct {
	IO *cmdutil.IOStreams

	// Files are the --file runbooks, loaded beside the built-in ones.
	Files   []string
	Runbook string
	Kind    string
	Kinds   bool
}

// NewCmdShow builds `cairn show`; runF replaces showRun in tests.
func NewCmdShow(f *cmdutil.Factory, runF func(context.Context, *ShowOptions) error) *cobra.Command {
	opts := &ShowOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "show <runbook> | --kind <kind> | --kinds",
		Short: "Show a runbook (parameters and steps), or a step kind's parameters",
		Args:  cmdutil.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = cmdutil.RunbookFiles(cmd)
			if len(args) == 1 {
				opts.Runbook = args[0]
			}
			if opts.Runbook == "" && opts.Kind == "" && !opts.Kinds {
				return cmdutil.FlagErrorf("give a runbook name, --kind <kind> or --kinds")
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return showRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Kind, "kind", "", "show a step kind's `with:` parameters")
	cmd.Flags().BoolVar(&opts.Kinds, "kinds", false, "list the step kinds")
	return cmd
}

func showRun(_ context.Context, opts *ShowOptions) error {
	c, reg, err := shared.Catalog(opts.Files)
	if err != nil {
		return err
	}
	switch {
	case opts.Kinds:
		for _, n := range reg.Names() {
			k, _ := reg.Lookup(n)
			fmt.Fprintf(opts.IO.Out, "%-24s %s\n", n, k.Summary)
		}
		return nil
	case opts.Kind != "":
		return writeKind(opts.IO.Out, reg, opts.Kind)
	}
	rb, err := c.Get(opts.Runbook)
	if err != nil {
		return err
	}
	out := opts.IO.Out
	fmt.Fprintf(out, "%s — %s\n(%s)\n\n%s\n\nParameters:\n", rb.Name, rb.Title, rb.Source, strings.TrimSpace(rb.Description))
	for _, p := range rb.Parameters {
		flags := []string{string(p.Type)}
		if p.Required {
			flags = append(flags, "required")
		}
		if p.Secret {
			flags = append(flags, "secret")
			if p.Env != "" {
				flags = append(flags, "from $"+p.Env)
			}
		}
		if !p.Default.IsZero() {
			flags = append(flags, "default "+p.Default.Raw)
		}
		if len(p.Values) > 0 {
			flags = append(flags, "one of "+strings.Join(p.Values, "|"))
		}
		fmt.Fprintf(out, "  %-20s %s\n  %-20s %s\n", p.Name, strings.Join(flags, ", "), "", p.Help)
		if p.Choices != runbooks.LookupNone {
			fmt.Fprintf(out, "  %-20s choices: %s — %s; any other value may be typed\n", "", p.Choices, p.Choices.About())
		}
	}
	fmt.Fprintln(out, "\nSteps:")
	for i, s := range rb.Steps {
		mark := ""
		if s.Destructive {
			mark = "  [destructive]"
		}
		fmt.Fprintf(out, "  %2d. %-22s %s (%s)%s\n", i+1, s.ID, s.Title, s.Kind, mark)
	}
	if len(rb.Cutback) > 0 {
		fmt.Fprintln(out, "\nCut-back steps (offered when a step fails):")
		for _, s := range rb.Cutback {
			fmt.Fprintf(out, "      %-22s %s (%s)\n", s.ID, s.Title, s.Kind)
		}
	}
	return nil
}
