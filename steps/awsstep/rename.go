package awsstep

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/goccy/go-yaml/ast"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Rename is the `rds-rename` kind: ModifyDBInstance NewDBInstanceIdentifier with ApplyImmediately,
// then wait for the new name (the old name stops answering at once, the new one only after a while).
// What it waits for, proves in Verify and takes for done in Check is Until:
//
//   - available (the default): the new name answers AND is available, twice in a row (the SDK's
//     available-waiter can return while the instance is still renaming);
//   - answers: the new name is listed (as the instance renamed) and PostgreSQL answers on its
//     endpoint — the moment applications get in again, while the instance is still renaming. The
//     step claims nothing more: a later step (rds-available) waits for and proves "available".
//
// Poll (optional, 1 s or more) caps the sleep between two polls (default 10 s): a rename inside the
// application's window should not sleep long past the moment it waits for. Encrypted
// ("true"/"false", optional) guards that the right instance is renamed. Rollback renames it back and
// waits until the original name is available.
type Rename struct {
	Region    `yaml:",inline"`
	From      ref.Template `yaml:"from"`
	To        ref.Template `yaml:"to"`
	Encrypted ref.Template `yaml:"encrypted"`
	Until     RenameUntil  `yaml:"until"`
	Poll      PollDuration `yaml:"poll"`
}

// RenameUntil is what a rename waits for before it returns: available (the zero value) or answers.
type RenameUntil string

// The two things a rename can wait for.
const (
	UntilAvailable RenameUntil = "available"
	UntilAnswers   RenameUntil = "answers"
)

// UnmarshalYAML reads available or answers; anything else is refused at its line.
func (u *RenameUntil) UnmarshalYAML(n ast.Node) error {
	tk := n.GetToken()
	switch v := RenameUntil(tk.Value); v {
	case UntilAvailable, UntilAnswers:
		*u = v
		return nil
	}
	return &steps.ValueError{Token: tk, Msg: fmt.Sprintf("want available (the new name answers and is available) or answers (it answers; a later rds-available step waits for available), got %q", tk.Value)}
}

// Choices are the values `until:` takes.
func (RenameUntil) Choices() []string { return []string{string(UntilAvailable), string(UntilAnswers)} }

func (u RenameUntil) answers() bool { return u == UntilAnswers }

// PollDuration is the longest sleep between two polls of a wait: 1 s or more, so once its delay has
// grown (from 200 ms, ×1.5) a wait makes at most one DescribeDBInstances call a second.
type PollDuration time.Duration

// UnmarshalYAML reads a duration of 1s or more; anything else is refused at its line.
func (d *PollDuration) UnmarshalYAML(n ast.Node) error {
	v, err := steps.ParseDuration(n.GetToken(), time.Second, "at most one DescribeDBInstances call a second")
	*d = PollDuration(v)
	return err
}

// describe is how a plan says the poll interval: "" when the default applies.
func (d PollDuration) describe() string {
	if d == 0 {
		return ""
	}
	return " (at most " + time.Duration(d).String() + " apart)"
}

// registerRename adds the `rds-rename` kind.
func registerRename(r *steps.Registry) {
	r.Register("rds-rename", "rename an instance and wait for the new name to answer and be available (or, until: answers, only to answer)", func() steps.Step { return &Rename{} })
}

// OutputNames declares the outputs.
func (r *Rename) OutputNames() []string { return []string{"arn", "endpoint", "resource-id"} }

// Validate checks the parameters.
func (r *Rename) Validate() error {
	if r.From.IsZero() || r.To.IsZero() {
		return fmt.Errorf("give `from:` and `to:`")
	}
	return nil
}

// Describe lists the calls.
func (r *Rename) Describe(env *steps.Env) []steps.Action {
	wait := "poll DescribeDBInstances " + env.Describe(r.To) + r.Poll.describe() + " until it answers under the new name and is available (twice in a row)"
	if r.Until.answers() {
		wait = "poll DescribeDBInstances " + env.Describe(r.To) + r.Poll.describe() + " until it is listed under the new name and PostgreSQL answers on its endpoint (an SSLRequest); it is still renaming then: a later step waits until it is available"
	}
	return []steps.Action{
		call("rds ModifyDBInstance", "DBInstanceIdentifier", env.Describe(r.From), "NewDBInstanceIdentifier", env.Describe(r.To), "ApplyImmediately", "true"),
		{Kind: steps.ActWait, Target: "rds", Text: wait},
	}
}

// renameGap is how long Apply and Rollback wait out the moment of a rename in which neither name
// answers. Check never waits: it answers from one look.
const renameGap = 90 * time.Second

// where says which of the two names answer, waiting out (at most wait) the window in which neither
// does; wait 0 is one look.
func (r *Rename) where(ctx context.Context, c *Clients, from, to string, wait time.Duration) (fromOK, toOK bool, err error) {
	deadline := time.Now().Add(wait)
	for {
		_, fromOK, err = c.Instance(ctx, from)
		if err != nil {
			return
		}
		_, toOK, err = c.Instance(ctx, to)
		if err != nil || fromOK || toOK || time.Now().After(deadline) {
			return
		}
		select {
		case <-ctx.Done():
			return false, false, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

func (r *Rename) guard(ctx context.Context, c *Clients, env *steps.Env, id string) error {
	want, err := env.Text(r.Encrypted)
	if err != nil || want == "" {
		return err
	}
	inst, ok, err := c.Instance(ctx, id)
	if err != nil || !ok {
		return err
	}
	encrypted, err := ref.ParseBool(want)
	if err != nil {
		return fmt.Errorf("encrypted: %w", err)
	}
	if aws.ToBool(inst.StorageEncrypted) != encrypted {
		return fmt.Errorf("instance %s has StorageEncrypted=%v, but this step renames the one with %s: refusing", id, aws.ToBool(inst.StorageEncrypted), want)
	}
	return nil
}

// Check says which name the instance answers to.
func (r *Rename) Check(ctx context.Context, env *steps.Env) steps.Check {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return unknownOr(err, "")
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return unknownOr(err, fixAWS)
	}
	fromOK, toOK, err := r.where(ctx, c, from, to, 0)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	switch {
	case fromOK && toOK:
		return steps.BlockedBy(fmt.Sprintf("both %s and %s exist", from, to), "the new name is taken: rename or delete "+to+" first")
	case fromOK:
		if err := r.guard(ctx, c, env, from); err != nil {
			return steps.BlockedBy(err.Error(), "check which instance is which: aws rds describe-db-instances")
		}
		return steps.ReadyTo(steps.Update, "rename %s → %s", from, to)
	case toOK:
		if err := r.guard(ctx, c, env, to); err != nil {
			return steps.BlockedBy(err.Error(), "check which instance is which: aws rds describe-db-instances")
		}
		inst, _, err := c.Instance(ctx, to)
		if err != nil {
			return steps.CannotTell("%v", err)
		}
		st := aws.ToString(inst.DBInstanceStatus)
		if r.Until.answers() {
			if err := answers(ctx, inst, to, ""); err != nil {
				return steps.ReadyTo(steps.Update, "%s is listed (%s) but does not answer yet (%v) → wait for it", to, st, err)
			}
			return steps.AlreadyDone("%s answers (%s); %s is gone", to, st, from)
		}
		if st != "available" {
			return steps.ReadyTo(steps.Update, "%s answers but is %s → wait for it", to, st)
		}
		return steps.AlreadyDone("%s answers and is available; %s is gone", to, from)
	}
	return steps.CannotTell("neither %s nor %s exists now (an earlier step makes one, a rename is between names, or the identifier is wrong)", from, to)
}

// rename renames from → to unless done already, then waits for the new name: until it answers, or
// until it is available.
func (r *Rename) rename(ctx context.Context, env *steps.Env, c *Clients, from, to string, until RenameUntil) (steps.Outputs, error) {
	fromOK, _, err := r.where(ctx, c, from, to, renameGap)
	if err != nil {
		return nil, err
	}
	every := time.Duration(r.Poll)
	var renamed string // the instance's DbiResourceId, when this call renames it
	if fromOK {
		inst, err := c.WaitInstanceEvery(ctx, env, from, every)
		if err != nil {
			return nil, err
		}
		if _, err := c.RDS.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{DBInstanceIdentifier: &from, NewDBInstanceIdentifier: &to, ApplyImmediately: aws.Bool(true)}); err != nil {
			return nil, fmt.Errorf("rename %s → %s: %w", from, to, err)
		}
		renamed = aws.ToString(inst.DbiResourceId)
		env.Info("renaming " + from + " → " + to)
	}
	var inst rdstypes.DBInstance
	if until.answers() {
		inst, err = c.WaitAnswers(ctx, env, to, renamed, every)
	} else {
		inst, err = c.WaitInstanceEvery(ctx, env, to, every)
	}
	if err != nil {
		return nil, err
	}
	return instanceOutputs(inst), nil
}

// Apply renames (unless done already) and waits for the new name.
func (r *Rename) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return nil, err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := r.guard(ctx, c, env, from); err != nil {
		return nil, err
	}
	return r.rename(ctx, env, c, from, to, r.Until)
}

// Observe reads the renamed instance's outputs.
func (r *Rename) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return observeInstance(ctx, env, r.Region, r.To)
}

// Verify proves the new name answers (until: answers — listed, PostgreSQL answering on its
// endpoint) or answers and is available (the default), and the old one is gone.
func (r *Rename) Verify(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return err
	}
	inst, ok, err := c.Instance(ctx, to)
	if err != nil {
		return err
	}
	if r.Until.answers() {
		if !ok {
			return &steps.VerifyError{What: "instance " + to, Expected: "answering under its name", Found: "not listed"}
		}
		if err := answers(ctx, inst, to, ""); err != nil {
			return &steps.VerifyError{What: "instance " + to, Expected: "PostgreSQL answering on its endpoint", Found: err.Error()}
		}
	} else if !ok || aws.ToString(inst.DBInstanceStatus) != "available" {
		return &steps.VerifyError{What: "instance " + to, Expected: "available", Found: statusOr(aws.ToString(inst.DBInstanceStatus), ok)}
	}
	if _, ok, err := c.Instance(ctx, from); err != nil {
		return err
	} else if ok {
		return &steps.VerifyError{What: "old name " + from, Expected: "gone", Found: "still answering"}
	}
	return r.guard(ctx, c, env, to)
}

// Rollback renames back, and waits until the original name is available (whatever Until).
func (r *Rename) Rollback(ctx context.Context, env *steps.Env) error {
	rv := resolving(env)
	from, to := rv.text(r.From), rv.text(r.To)
	if err := rv.err; err != nil {
		return err
	}
	c, err := r.clients(ctx, env)
	if err != nil {
		return err
	}
	renamed, original, err := r.where(ctx, c, to, from, renameGap)
	if err != nil {
		return err
	}
	if original || !renamed {
		return nil // the old name already answers (never renamed, or renamed back)
	}
	_, err = r.rename(ctx, env, c, to, from, UntilAvailable)
	return err
}
