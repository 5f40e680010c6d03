package awsstep

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Leftovers is the `rds-leftovers` kind, a cut-back's last word: of the snapshots a run creates
// (Snapshots, the same names its preflight wants free), it lists those that exist — what the
// cut-back leaves — each with what it holds for the engineer to judge and the command that deletes
// it; a run of the same runbook again is refused while they exist. It reads only, deletes nothing.
type Leftovers struct {
	Region    `yaml:",inline"`
	Snapshots []ref.Template `yaml:"snapshots"`
}

// registerLeftovers adds the `rds-leftovers` kind.
func registerLeftovers(r *steps.Registry) {
	r.Register("rds-leftovers", "cut-back: list the snapshots the run leaves, with the command that deletes each", func() steps.Step { return &Leftovers{} })
}

// OutputNames declares the outputs.
func (l *Leftovers) OutputNames() []string { return []string{"left"} }

// Validate checks the parameters.
func (l *Leftovers) Validate() error {
	if len(l.Snapshots) == 0 {
		return fmt.Errorf("give `snapshots:`, the snapshot names the run creates")
	}
	return nil
}

// Describe lists the calls.
func (l *Leftovers) Describe(env *steps.Env) []steps.Action {
	var acts []steps.Action
	for _, s := range l.Snapshots {
		acts = append(acts, call("rds DescribeDBSnapshots", "DBSnapshotIdentifier", env.Describe(s)+"  (listed with its delete command when it exists)"))
	}
	return acts
}

// Check is ready to read.
func (l *Leftovers) Check(ctx context.Context, env *steps.Env) steps.Check {
	return steps.ReadyTo(steps.Read, "list the snapshots this run leaves")
}

// Apply lists them.
func (l *Leftovers) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	c, err := l.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, t := range l.Snapshots {
		name, err := env.Text(t)
		if err != nil {
			return nil, err
		}
		snap, ok, err := c.Snapshot(ctx, name)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		by := ""
		if run, ok := tagValue(snap.TagList, TagRunID); ok && run != "" {
			by = ", made by run " + run
		}
		left = append(left, fmt.Sprintf("snapshot %s (%s, taken %s%s): `aws rds delete-db-snapshot --db-snapshot-identifier %s` once nothing needs it", name, aws.ToString(snap.Status), timeText(snap.SnapshotCreateTime), by, name))
	}
	if len(left) == 0 {
		env.Info("this run leaves no snapshot behind")
		return steps.Outputs{"left": steps.Output{}}, nil
	}
	env.Info(fmt.Sprintf("the cut-back leaves %d snapshot(s) — a run of this runbook again is refused while they exist; keep what holds data you may need:", len(left)))
	for _, x := range left {
		env.Info("LEFT: " + x)
	}
	return steps.Outputs{"left": steps.Output{List: left}}, nil
}

// Verify: the listing is the apply.
func (l *Leftovers) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (l *Leftovers) Rollback(context.Context, *steps.Env) error { return nil }
