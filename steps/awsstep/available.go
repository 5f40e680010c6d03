package awsstep

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Available is the `rds-available` kind: wait until an instance answers under its name and is
// available, twice in a row. It follows an rds-rename with `until: answers`, which returned as soon as
// the new name answered (the application's window ends there) while the instance was still
// renaming: the run goes on only once this step has proved it available. ResourceID (optional, e.g.
// ${steps.rename-target.resource-id}) binds it to the instance renamed: another instance under the
// name is refused, never waited for. Poll caps the sleep between two polls, as rds-rename's. It
// reads only; there is nothing to roll back.
type Available struct {
	Region     `yaml:",inline"`
	Instance   ref.Template `yaml:"instance"`
	ResourceID ref.Template `yaml:"resource-id"`
	Poll       PollDuration `yaml:"poll"`
}

// registerAvailable adds the `rds-available` kind.
func registerAvailable(r *steps.Registry) {
	r.Register("rds-available", "wait until an instance answers under its name and is available (after a rename that returned once the name answered)", func() steps.Step { return &Available{} })
}

// OutputNames declares the outputs.
func (a *Available) OutputNames() []string { return []string{"arn", "endpoint", "resource-id"} }

// Validate checks the parameters.
func (a *Available) Validate() error {
	if a.Instance.IsZero() {
		return fmt.Errorf("give `instance:`")
	}
	return nil
}

// Describe lists the calls.
func (a *Available) Describe(env *steps.Env) []steps.Action {
	as := ""
	if !a.ResourceID.IsZero() {
		as = " as DbiResourceId " + env.Describe(a.ResourceID)
	}
	return []steps.Action{{Kind: steps.ActWait, Target: "rds", Text: "poll DescribeDBInstances " + env.Describe(a.Instance) + a.Poll.describe() +
		" until it answers under its name" + as + " and is available (twice in a row)"}}
}

// look reads the instance under its name and refuses another instance than the one named.
func (a *Available) look(ctx context.Context, env *steps.Env) (c *Clients, id, res string, inst rdstypes.DBInstance, ok bool, err error) {
	rv := resolving(env)
	id, res = rv.text(a.Instance), rv.text(a.ResourceID)
	if err = rv.err; err != nil {
		return
	}
	if c, err = a.clients(ctx, env); err != nil {
		return
	}
	if inst, ok, err = c.Instance(ctx, id); err != nil || !ok {
		return
	}
	if got := aws.ToString(inst.DbiResourceId); res != "" && got != res {
		err = &otherInstance{id: id, want: res, got: got}
	}
	return
}

// otherInstance is another instance than the one a step names answering under the name.
type otherInstance struct{ id, want, got string }

func (e *otherInstance) Error() string {
	return fmt.Sprintf("%s is instance %s, not %s (the one this step waits for)", e.id, e.got, e.want)
}

// Check says whether the instance is available already.
func (a *Available) Check(ctx context.Context, env *steps.Env) steps.Check {
	_, id, _, inst, ok, err := a.look(ctx, env)
	if oe := (*otherInstance)(nil); errors.As(err, &oe) {
		return steps.BlockedBy(err.Error(), "check which instance is which: aws rds describe-db-instances")
	}
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	switch st := aws.ToString(inst.DBInstanceStatus); {
	case !ok:
		return steps.ReadyTo(steps.Read, "%s does not answer yet → wait until it answers and is available", id)
	case st != "available":
		return steps.ReadyTo(steps.Read, "%s answers but is %s → wait until it is available", id, st)
	}
	return steps.AlreadyDone("%s answers and is available", id)
}

// Apply waits until the instance is available.
func (a *Available) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	c, id, res, _, _, err := a.look(ctx, env)
	if err != nil {
		return nil, err
	}
	inst, err := c.WaitInstanceEvery(ctx, env, id, time.Duration(a.Poll))
	if err != nil {
		return nil, err
	}
	if got := aws.ToString(inst.DbiResourceId); res != "" && got != res {
		return nil, &otherInstance{id: id, want: res, got: got}
	}
	return instanceOutputs(inst), nil
}

// Observe reads the instance's outputs.
func (a *Available) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return observeInstance(ctx, env, a.Region, a.Instance)
}

// Verify proves the instance answers under its name (as the instance named) and is available.
func (a *Available) Verify(ctx context.Context, env *steps.Env) error {
	_, id, _, inst, ok, err := a.look(ctx, env)
	if err != nil {
		return err
	}
	if st := aws.ToString(inst.DBInstanceStatus); !ok || st != "available" {
		return &steps.VerifyError{What: "instance " + id, Expected: "available", Found: statusOr(st, ok)}
	}
	return nil
}

// Rollback has nothing to undo: the step only waits.
func (a *Available) Rollback(context.Context, *steps.Env) error { return nil }
