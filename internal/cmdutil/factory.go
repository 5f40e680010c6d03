// Package cmdutil holds what every cairn command is given instead of reaching for globals: the I/O
// streams (stdin included), the environment, the state directory; and the typed usage error every
// command returns for wrong flags or arguments. Commands take a *Factory in their constructor
// (cli/cli's pkg/cmdutil), so a test swaps any of it.
package cmdutil

import (
	"os"
	"path/filepath"
)

// Factory is handed to every command constructor.
type Factory struct {
	IO *IOStreams
	// Getenv reads the environment (os.Getenv in production, a map in tests).
	Getenv func(string) string
	// Executable is the path of the running cairn binary, used to start detached runners.
	Executable string
}

// StateDir is where cairn keeps runs: CAIRN_STATE_DIR, else $XDG_STATE_HOME/cairn, else
// ~/.local/state/cairn.
func (f *Factory) StateDir() string {
	if d := f.Getenv("CAIRN_STATE_DIR"); d != "" {
		return d
	}
	if d := f.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "cairn")
	}
	home := f.Getenv("HOME")
	if home == "" {
		home, _ = os.UserHomeDir()
	}
	return filepath.Join(home, ".local", "state", "cairn")
}
