// Package runner is the hidden `cairn __runner`: the process launch.Start detaches to drive one
// run (mode run or rollback). It reads the run's secrets as JSON on stdin (they are never stored),
// ignores SIGHUP so a dropped terminal never stops a run, and stops cleanly on SIGINT/SIGTERM.
// It prints only its final word to stderr (the run's log); everything else goes to the journal.
package runner

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/internal/ref"
	cairnrunner "github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

// RunnerOptions are what `cairn __runner` was given.
type RunnerOptions struct {
	IO     *cmdutil.IOStreams
	Getenv func(string) string

	RunDir string
	Mode   cairnrunner.Mode
}

// NewCmdRunner builds `cairn __runner`; runF replaces runnerRun in tests.
func NewCmdRunner(f *cmdutil.Factory, runF func(context.Context, *RunnerOptions) error) *cobra.Command {
	opts := &RunnerOptions{IO: f.IO, Getenv: f.Getenv}
	var mode string
	cmd := &cobra.Command{
		Use:    "__runner",
		Hidden: true,
		Args:   cmdutil.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Mode = cairnrunner.Mode(mode)
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runnerRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.RunDir, "run-dir", "", "run directory")
	cmd.Flags().StringVar(&mode, "mode", "run", "run | rollback")
	return cmd
}

func runnerRun(ctx context.Context, opts *RunnerOptions) error {
	signal.Ignore(syscall.SIGHUP) // a dropped terminal never stops a run
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	run := &journal.Run{Dir: opts.RunDir, ID: filepath.Base(opts.RunDir)}
	if st, err := os.Stat(opts.RunDir); err == nil && st.Mode()&os.ModeSetgid != 0 {
		run.Shared = true
	}
	var secrets map[string]string
	if err := json.NewDecoder(opts.IO.In).Decode(&secrets); err != nil {
		return fmt.Errorf("read secrets from stdin: %w", err)
	}
	rb, meta, err := shared.RunRunbook(run)
	if err != nil {
		return err
	}
	vals := runbooks.Values{}
	for k, v := range meta.Params {
		vals[k] = ref.Value{S: v}
	}
	for k, v := range secrets {
		vals[k] = ref.Value{S: v, Secret: true}
	}
	who := launch.Who(opts.Getenv)
	who.Via = "runner"
	status, err := cairnrunner.Run(ctx, cairnrunner.Config{
		Run: run, Meta: meta, Runbook: rb, Values: vals, Actor: who,
		Getenv: opts.Getenv, Environ: os.Environ(), Target: launch.Target(ctx, opts.Getenv), Mode: opts.Mode,
	})
	fmt.Fprintf(opts.IO.ErrOut, "runner finished: %s %v\n", status, err)
	return err
}
