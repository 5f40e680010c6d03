package host

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/generic"
)

// RunAs is the `run-as` kind: a command run as another OS user through
// `runuser -u USER -- argv…` (runuser sets HOME, USER and LOGNAME to the user's, so libpq reads
// that user's ~/.pgpass). Check, verify and rollback commands run as the same user unless they
// name their own.
type RunAs struct {
	User            ref.Template `yaml:"user"`
	generic.Command `yaml:",inline"`
	// Check exits 0 when the work is already done, 1 when it is to do.
	CheckCmd *UserCommand `yaml:"check"`
	// Verify exits 0 when the work is in place.
	VerifyCmd *UserCommand `yaml:"verify"`
	// Rollback undoes the work.
	RollbackCmd *UserCommand `yaml:"rollback"`
	// ReadOnly marks a command that changes nothing (a probe): Check says read, rollback is a no-op.
	ReadOnly bool `yaml:"read_only"`
}

// UserCommand is a command with an optional user of its own ("root" runs it as cairn itself).
type UserCommand struct {
	User            ref.Template `yaml:"user"`
	generic.Command `yaml:",inline"`
}

// Validate checks the commands.
func (r *RunAs) Validate() error {
	var errs []error
	if r.User.IsZero() {
		errs = append(errs, errors.New("give `user:` (the OS user to run as)"))
	}
	errs = append(errs, r.Command.Validate("argv"))
	for name, c := range map[string]*UserCommand{"check": r.CheckCmd, "verify": r.VerifyCmd, "rollback": r.RollbackCmd} {
		if c != nil {
			errs = append(errs, c.Command.Validate(name))
		}
	}
	return errors.Join(errs...)
}

// asUser prefixes runuser unless the user is root.
func asUser(user string, argv []string) []string {
	if user == "" || user == "root" {
		return argv
	}
	return append([]string{"runuser", "-u", user, "--"}, argv...)
}

func (r *RunAs) userOf(c *UserCommand) ref.Template {
	if c != nil && !c.User.IsZero() {
		return c.User
	}
	return r.User
}

func (r *RunAs) run(ctx context.Context, env *steps.Env, user ref.Template, c *generic.Command, quiet bool) (proc.Result, error) {
	u, err := env.Text(user)
	if err != nil {
		return proc.Result{}, err
	}
	pc, err := c.Build(env)
	if err != nil {
		return proc.Result{}, err
	}
	pc.Argv = asUser(u, pc.Argv)
	pc.Quiet = quiet
	return proc.Run(ctx, env, pc)
}

func (r *RunAs) describe(env *steps.Env, user ref.Template, c *generic.Command) string {
	u := env.Describe(user)
	if u == "root" {
		return c.Describe(env)
	}
	return "runuser -u " + u + " -- " + c.Describe(env)
}

// Describe lists the commands with the user they run as.
func (r *RunAs) Describe(env *steps.Env) []steps.Action {
	var out []steps.Action
	if r.CheckCmd != nil {
		out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: "# check (exit 0 = already done)\n" + r.describe(env, r.userOf(r.CheckCmd), &r.CheckCmd.Command)})
	}
	out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: r.describe(env, r.User, &r.Command)})
	if r.VerifyCmd != nil {
		out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: "# verify (exit 0 = in place)\n" + r.describe(env, r.userOf(r.VerifyCmd), &r.VerifyCmd.Command)})
	}
	if r.RollbackCmd != nil {
		out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: "# rollback\n" + r.describe(env, r.userOf(r.RollbackCmd), &r.RollbackCmd.Command)})
	}
	return out
}

// Check runs the check command.
func (r *RunAs) Check(ctx context.Context, env *steps.Env) steps.Check {
	if r.CheckCmd == nil {
		if r.ReadOnly {
			return steps.ReadyTo(steps.Read, "reads only")
		}
		return steps.CannotTell("no check command: cairn cannot tell whether this was done")
	}
	res, err := r.run(ctx, env, r.userOf(r.CheckCmd), &r.CheckCmd.Command, true)
	var ee *proc.ExitError
	switch {
	case err == nil:
		return steps.AlreadyDone("check command exited 0 %s", strings.TrimSpace(res.Stdout))
	case errors.As(err, &ee) && ee.ExitCode == 1:
		return steps.ReadyTo(steps.Update, "check command exited 1: to do %s", strings.TrimSpace(res.Stdout))
	case errors.Is(err, ref.ErrUnknown):
		return steps.CannotTell("%v", err)
	}
	return steps.CannotTell("check command failed: %v", err)
}

// Apply runs the command.
func (r *RunAs) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	res, err := r.run(ctx, env, r.User, &r.Command, false)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("stdout", strings.TrimRight(res.Stdout, "\r\n")), nil
}

// OutputNames declares the outputs.
func (r *RunAs) OutputNames() []string { return []string{"stdout"} }

// Verify runs the verify command.
func (r *RunAs) Verify(ctx context.Context, env *steps.Env) error {
	if r.VerifyCmd == nil {
		return nil
	}
	res, err := r.run(ctx, env, r.userOf(r.VerifyCmd), &r.VerifyCmd.Command, true)
	if err != nil {
		return fmt.Errorf("verify command: %w %s", err, strings.TrimSpace(res.Stdout))
	}
	return nil
}

// Rollback runs the rollback command.
func (r *RunAs) Rollback(ctx context.Context, env *steps.Env) error {
	if r.RollbackCmd == nil {
		if r.ReadOnly {
			return nil
		}
		return steps.NotReversible("the runbook gives no rollback command for this step")
	}
	_, err := r.run(ctx, env, r.userOf(r.RollbackCmd), &r.RollbackCmd.Command, false)
	return err
}
