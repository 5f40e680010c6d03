package root

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/twin"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// extraCommands are commands that live in their own packages.
func extraCommands(f *cmdutil.Factory) []*cobra.Command {
	return []*cobra.Command{twin.NewCmdTwin(f)}
}
