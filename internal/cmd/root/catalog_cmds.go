package root

import (
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

func newCmdShow(f *cmdutil.Factory, files func() []string) *cobra.Command {
	var kind string
	var kinds bool
	cmd := &cobra.Command{
		Use:   "show <runbook> | --kind <kind> | --kinds",
		Short: "Show a runbook (parameters and steps), or a step kind's parameters",
		Args:  cmdutil.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, reg, err := shared.Catalog(files())
			if err != nil {
				return err
			}
			switch {
			case kinds:
				for _, n := range reg.Names() {
					k, _ := reg.Lookup(n)
					fmt.Fprintf(f.IO.Out, "%-24s %s\n", n, k.Summary)
				}
				return nil
			case kind != "":
				return writeKind(f.IO.Out, reg, kind)
			case len(args) == 0:
				return cmdutil.FlagErrorf("give a runbook name, --kind <kind> or --kinds")
			}
			rb, err := c.Get(args[0])
			if err != nil {
				return err
			}
			out := f.IO.Out
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
		},
	}
	cmd.Flags().StringVar(&kind, "kind", "", "show a step kind's `with:` parameters")
	cmd.Flags().BoolVar(&kinds, "kinds", false, "list the step kinds")
	return cmd
}
