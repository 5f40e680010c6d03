// Package list is `cairn list`: the runbooks cairn knows (built in, and any given with --file), one
// line each: name, number of steps, title.
package list

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ListOptions are what `cairn list` was given.
type ListOptions struct {
	IO *cmdutil.IOStreams

	// Files are the --file runbooks, loaded beside the built-in ones.
	Files []string
}

// NewCmdList builds `cairn list`; runF replaces listRun in tests.
func NewCmdList(f *cmdutil.Factory, runF func(context.Context, *ListOptions) error) *cobra.Command {
	opts := &ListOptions{IO: f.IO}
	return &cobra.Command{
		Use:   "list",
		Short: "List the runbooks",
		Args:  cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Files = cmdutil.RunbookFiles(cmd)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return listRun(cmd.Context(), opts)
		},
	}
}

func listRun(_ context.Context, opts *ListOptions) error {
	c, _, err := shared.Catalog(opts.Files)
	if err != nil {
		return err
	}
	for _, rb := range c.All() {
		fmt.Fprintf(opts.IO.Out, "%-18s %2d steps  %s\n", rb.Name, len(rb.Steps), rb.Title)
	}
	return nil
}
