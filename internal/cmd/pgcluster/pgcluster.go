// Package pgcluster is the hidden `cairn __pgcluster up|down` for demos and scripts: a throwaway
// local PostgreSQL cluster in --dir. up creates it if need be, starts it and prints the libpq
// environment that points at it; down stops it and removes the directory. It touches nothing else.
package pgcluster

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	cluster "github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/spf13/cobra"
)

// Action is what is done to the cluster.
type Action int

const (
	Up   Action = iota + 1 // create if need be, start, print the environment
	Down                   // stop and remove
)

// PGClusterOptions are what `cairn __pgcluster` was given.
type PGClusterOptions struct {
	IO *cmdutil.IOStreams

	Action Action
	Dir    string
}

// NewCmdPGCluster builds `cairn __pgcluster` with up and down; runF replaces pgclusterRun in tests.
func NewCmdPGCluster(f *cmdutil.Factory, runF func(context.Context, *PGClusterOptions) error) *cobra.Command {
	opts := &PGClusterOptions{IO: f.IO}
	cmd := &cobra.Command{Use: "__pgcluster", Hidden: true}
	sub := func(use string, action Action) *cobra.Command {
		return &cobra.Command{
			Use:  use,
			Args: cmdutil.NoArgs,
			RunE: func(cmd *cobra.Command, args []string) error {
				opts.Action = action
				if runF != nil {
					return runF(cmd.Context(), opts)
				}
				return pgclusterRun(cmd.Context(), opts)
			},
		}
	}
	cmd.PersistentFlags().StringVar(&opts.Dir, "dir", "", "cluster directory")
	cmd.AddCommand(sub("up", Up), sub("down", Down))
	return cmd
}

func pgclusterRun(ctx context.Context, opts *PGClusterOptions) error {
	if opts.Action == Down {
		c, err := cluster.Open(opts.Dir)
		if err != nil {
			return err
		}
		return c.Remove(ctx)
	}
	c, err := cluster.Open(opts.Dir)
	if err != nil {
		c, err = cluster.Init(ctx, cluster.Options{Dir: opts.Dir})
		if err != nil {
			return err
		}
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.Out, "export PGHOST=%s PGPORT=%d PGUSER=%s PGDATABASE=postgres\n", c.SocketDir, c.Port, c.Superuser)
	return nil
}
