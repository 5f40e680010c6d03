package root

import (
	"encoding/json"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/launch"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

// newCmdRunner is the hidden entry point of a runner process (started by launch.Start).
func newCmdRunner(f *cmdutil.Factory) *cobra.Command {
	var dir, mode string
	cmd := &cobra.Command{
		Use:    "__runner",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			signal.Ignore(syscall.SIGHUP) // a dropped terminal never stops a run
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			run := &journal.Run{Dir: dir, ID: baseName(dir)}
			if st, err := os.Stat(dir); err == nil && st.Mode()&os.ModeSetgid != 0 {
				run.Shared = true
			}
			var secrets map[string]string
			if err := json.NewDecoder(os.Stdin).Decode(&secrets); err != nil {
				return fmt.Errorf("read secrets from stdin: %w", err)
			}
			rb, meta, err := runRunbook(run)
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
			who := launch.Who(f.Getenv)
			who.Via = "runner"
			status, err := runner.Run(ctx, runner.Config{
				Run: run, Meta: meta, Runbook: rb, Values: vals, Actor: who,
				Getenv: f.Getenv, Environ: os.Environ(), Target: launch.Target(ctx, f.Getenv), Mode: runner.Mode(mode),
			})
			fmt.Fprintf(os.Stderr, "runner finished: %s %v\n", status, err)
			return err
		},
	}
	cmd.Flags().StringVar(&dir, "run-dir", "", "run directory")
	cmd.Flags().StringVar(&mode, "mode", "run", "run | rollback")
	return cmd
}

func baseName(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[i+1:]
		}
	}
	return p
}

func jsonIndent(v any) ([]byte, error) { return json.MarshalIndent(v, "", "  ") }
