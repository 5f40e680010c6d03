// Package cmdtest runs one cairn command the way its table test needs: argv in, the options its
// run function would have been given out (through the runF seam), or stdout and stderr of a real
// run. Commands are built exactly as the root command builds them, flag errors typed the same way.
package cmdtest

import (
	"bytes"
	"context"
	"io"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// Factory is a Factory on buffers (no terminal at either end) with env as the whole environment.
func Factory(env map[string]string) (f *cmdutil.Factory, out, errOut *bytes.Buffer) {
	ios, _, out, errOut := cmdutil.TestIOStreams()
	return &cmdutil.Factory{IO: ios, Getenv: func(k string) string { return env[k] }}, out, errOut
}

// NewCmd is a verb's constructor: NewCmdX(f, runF).
type NewCmd[O any] func(f *cmdutil.Factory, runF func(context.Context, *O) error) *cobra.Command

// Parse builds the command with a runF that keeps its options, runs argv through it and returns
// those options (nil when the command refused argv before its run function) and the error.
func Parse[O any](f *cmdutil.Factory, newCmd NewCmd[O], argv ...string) (*O, error) {
	var got *O
	cmd := newCmd(f, func(_ context.Context, o *O) error { got = o; return nil })
	return got, execute(cmd, argv)
}

// Run builds the command as cairn does (no runF) and runs argv; what it printed is in f.IO.
func Run[O any](f *cmdutil.Factory, newCmd NewCmd[O], argv ...string) error {
	return execute(newCmd(f, nil), argv)
}

// execute runs the verb under a root like cairn's (its persistent --file, its flag errors typed);
// argv is what follows the verb's name.
func execute(verb *cobra.Command, argv []string) error {
	root := &cobra.Command{Use: "cairn", SilenceErrors: true, SilenceUsage: true}
	cmdutil.AddFileFlag(root)
	root.SetFlagErrorFunc(cmdutil.FlagErrorFunc)
	root.AddCommand(verb)
	root.SetArgs(append([]string{verb.Name()}, argv...))
	root.SetOut(io.Discard)
	root.SetErr(io.Discard)
	return root.ExecuteContext(context.Background())
}
