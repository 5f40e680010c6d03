// Package resume is `cairn resume <run-id>`: a new runner continues a run after a crash, an abort
// or an interruption. Verified steps are never repeated; a step in flight is checked first. With
// --take-over it first stops the run's live runner on this host (only one proven to be it).
package resume

import (
	"context"

	"github.com/cairn-runbooks/cairn/internal/cmd/shared"
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/spf13/cobra"
)

// ResumeOptions are what `cairn resume` was given: the run id, the run flags, --take-over.
type ResumeOptions = shared.RestartOptions

// NewCmdResume builds `cairn resume`; runF replaces resumeRun in tests.
func NewCmdResume(f *cmdutil.Factory, runF func(context.Context, *ResumeOptions) error) *cobra.Command {
	return shared.NewCmdRestart(f, "resume <run-id>", "Continue a run after a crash or an abort: completed steps are not repeated", true, runF, resumeRun)
}

func resumeRun(ctx context.Context, opts *ResumeOptions) error {
	return shared.Restart(ctx, opts.Factory, opts.RunID, "run", opts.RunFlags, opts.TakeOver)
}
