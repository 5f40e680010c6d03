package root

import (
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/spf13/cobra"
)

// newCmdPGCluster is a hidden helper for demos and scripts: a throwaway local PostgreSQL cluster.
func newCmdPGCluster(f *cmdutil.Factory) *cobra.Command {
	var dir string
	cmd := &cobra.Command{Use: "__pgcluster", Hidden: true}
	up := &cobra.Command{
		Use:  "up",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pgcluster.Open(dir)
			if err != nil {
				c, err = pgcluster.Init(cmd.Context(), pgcluster.Options{Dir: dir})
				if err != nil {
					return err
				}
			}
			if err := c.Start(cmd.Context()); err != nil {
				return err
			}
			fmt.Fprintf(f.IO.Out, "export PGHOST=%s PGPORT=%d PGUSER=%s PGDATABASE=postgres\n", c.SocketDir, c.Port, c.Superuser)
			return nil
		},
	}
	down := &cobra.Command{
		Use:  "down",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := pgcluster.Open(dir)
			if err != nil {
				return err
			}
			return c.Remove(cmd.Context())
		},
	}
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "cluster directory")
	cmd.AddCommand(up, down)
	return cmd
}
