package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/pgcluster"
	"path/filepath"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

func TestNewCmdPGCluster(t *testing.T) {
	cmdtest.Table(t, pgcluster.NewCmdPGCluster, func(o *pgcluster.PGClusterOptions) { o.IO = nil }, []cmdtest.Case[pgcluster.PGClusterOptions]{
		{Name: "up", Argv: []string{"up", "--dir", "/tmp/pg"}, Want: pgcluster.PGClusterOptions{Action: pgcluster.Up, Dir: "/tmp/pg"}},
		{Name: "down", Argv: []string{"--dir", "/tmp/pg", "down"}, Want: pgcluster.PGClusterOptions{Action: pgcluster.Down, Dir: "/tmp/pg"}},
		{Name: "an argument", Argv: []string{"up", "x"}, Usage: `unknown command "x"`},
	})
}

// down of a directory holding no cluster removes nothing and says which directory it read.
func TestDownWithoutCluster(t *testing.T) {
	dir := t.TempDir()
	out, errOut, err := cmdtest.Output(nil, pgcluster.NewCmdPGCluster, "down", "--dir", dir)
	want := "open cluster in " + dir + ": open " + filepath.Join(dir, "cluster.json") + ": no such file or directory"
	if err == nil || err.Error() != want || out != "" || errOut != "" {
		t.Fatalf("down: %v, stdout %q, stderr %q; want error %q", err, out, errOut, want)
	}
}
