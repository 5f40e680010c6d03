package shared

import (
	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/spf13/cobra"
)

// RunFlags are the flags of every verb that starts a runner (run, resume, rollback): who answers
// and how, and where the view goes.
type RunFlags struct {
	SecretFiles []string
	Yes         bool
	NoTUI       bool
	OnFailure   string
	Confirm     []string
	Detach      bool
}

// AddFlags declares the flags on cmd.
func (o *RunFlags) AddFlags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&o.Yes, "yes", false, "answer yes/no confirmations and checklists with yes")
	cmd.Flags().BoolVar(&o.NoTUI, "no-tui", false, "plain timestamped lines instead of the TUI")
	cmd.Flags().StringVar(&o.OnFailure, "on-failure", "", "when a step fails and no one is there to decide: `abort|rollback`")
	cmd.Flags().StringArrayVar(&o.Confirm, "confirm", nil, "typed confirmation for a destructive step: `step-id=value`")
	cmd.Flags().StringArrayVar(&o.SecretFiles, "secret-file", nil, "read secret parameter from a 0600 file: `name=path`")
	cmd.Flags().BoolVar(&o.Detach, "detach", false, "start the run and return at once (`cairn attach <id>` later)")
}

// Policy is what the runner does when it would ask; interactive when someone can answer.
func (o *RunFlags) Policy(interactive bool) (journal.Policy, error) {
	confirm, err := runbooks.ParseAssignments(o.Confirm)
	if err != nil {
		return journal.Policy{}, cmdutil.FlagErrorf("--confirm: %w", err)
	}
	switch o.OnFailure {
	case "", "abort", "rollback":
	default:
		return journal.Policy{}, cmdutil.FlagErrorf("--on-failure %q: use abort or rollback", o.OnFailure)
	}
	return journal.Policy{Yes: o.Yes, Confirm: confirm, OnFailure: events.Decision(o.OnFailure), Interactive: interactive}, nil
}

// Validate refuses flags that cannot make a policy (a usage error), before anything is opened.
func (o *RunFlags) Validate() error {
	_, err := o.Policy(false)
	return err
}
