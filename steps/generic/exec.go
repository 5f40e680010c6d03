package generic

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Exec is the `exec` kind: run a command.
type Exec struct {
	Command `yaml:",inline"`
	// Check exits 0 when the work is already done, 1 when it is to do; any other exit means it
	// cannot tell.
	CheckCmd *Command `yaml:"check"`
	// Verify exits 0 when the work is in place.
	VerifyCmd *Command `yaml:"verify"`
	// Rollback undoes the work.
	RollbackCmd *Command `yaml:"rollback"`
	// ReadOnly marks a command that changes nothing (a probe, an export to the run's directory).
	ReadOnly bool `yaml:"read_only"`
}

// Validate checks the commands.
func (e *Exec) Validate() error {
	errs := []error{e.Command.Validate("argv")}
	for name, c := range map[string]*Command{"check": e.CheckCmd, "verify": e.VerifyCmd, "rollback": e.RollbackCmd} {
		if c != nil {
			errs = append(errs, c.Validate(name))
		}
	}
	return errors.Join(errs...)
}

// Describe lists the commands.
func (e *Exec) Describe(env *steps.Env) []steps.Action {
	var out []steps.Action
	if !e.CheckCmd.IsZero() {
		out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: "# check (exit 0 = already done)\n" + e.CheckCmd.Describe(env)})
	}
	out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: e.Command.Describe(env)})
	if !e.VerifyCmd.IsZero() {
		out = append(out, steps.Action{Kind: steps.ActExec, Target: "local", Text: "# verify (exit 0 = in place)\n" + e.VerifyCmd.Describe(env)})
	}
	return out
}

// Check runs the check command.
func (e *Exec) Check(ctx context.Context, env *steps.Env) steps.Check {
	if e.CheckCmd.IsZero() {
		if e.ReadOnly {
			return steps.ReadyTo(steps.Read, "reads only")
		}
		return steps.CannotTell("no check command: cairn cannot tell whether this was done")
	}
	_, err := e.CheckCmd.Run(ctx, env, true)
	switch code := exitCode(err); code {
	case 0:
		return steps.AlreadyDone("check command exited 0")
	case 1:
		return steps.ReadyTo(steps.Update, "check command exited 1: to do")
	default:
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.CannotTell("check command failed: %v", err)
	}
}

// Apply runs the command.
func (e *Exec) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	r, err := e.Command.Run(ctx, env, false)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{"stdout": {Value: trimNL(r.Stdout)}}, nil
}

// OutputNames declares the outputs.
func (e *Exec) OutputNames() []string { return []string{"stdout"} }

// Verify runs the verify command.
func (e *Exec) Verify(ctx context.Context, env *steps.Env) error {
	if e.VerifyCmd.IsZero() {
		return nil
	}
	r, err := e.VerifyCmd.Run(ctx, env, true)
	if err != nil {
		return fmt.Errorf("verify command: %w %s", err, trimNL(r.Stdout))
	}
	return nil
}

// Rollback runs the rollback command.
func (e *Exec) Rollback(ctx context.Context, env *steps.Env) error {
	if e.RollbackCmd.IsZero() {
		if e.ReadOnly {
			return nil
		}
		return steps.NotReversible("the runbook gives no rollback command for this step")
	}
	_, err := e.RollbackCmd.Run(ctx, env, false)
	return err
}

func trimNL(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '\n' || s[len(s)-1] == '\r') {
		s = s[:len(s)-1]
	}
	return s
}
