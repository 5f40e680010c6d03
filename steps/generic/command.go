package generic

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Command is an argv with its environment. Each argv element is one template; a reference fills
// exactly that argument and is never split. A shell runs only if the runbook writes one (sh -c).
type Command struct {
	Argv  []ref.Template          `yaml:"argv"`
	Env   map[string]ref.Template `yaml:"env"` // e.g. PGPASSWORD: ${params.password} (secrets go here, never argv)
	Dir   ref.Template            `yaml:"dir"`
	Stdin ref.Template            `yaml:"stdin"`
}

// IsZero reports whether no command was given.
func (c *Command) IsZero() bool { return c == nil || len(c.Argv) == 0 }

// Validate checks the command and that no secret lands in argv.
func (c *Command) Validate(field string) error {
	if c.IsZero() {
		return fmt.Errorf("%s: give `argv:` as a list, e.g. [pg_isready, -h, localhost]", field)
	}
	return nil
}

// Build resolves the command for running.
func (c *Command) Build(env *steps.Env) (proc.Cmd, error) {
	var out proc.Cmd
	for i, a := range c.Argv {
		for _, r := range a.Refs() {
			if v, ok := env.Lookup(r); ok && v.Secret {
				return out, fmt.Errorf("argv[%d] refers to secret %s: pass secrets in `env:` or `stdin:`, never argv", i, r)
			}
		}
		s, err := env.Text(a)
		if err != nil {
			return out, fmt.Errorf("argv[%d]: %w", i, err)
		}
		out.Argv = append(out.Argv, s)
	}
	if len(c.Env) > 0 {
		out.Env = append([]string(nil), env.Environ...)
		for k, t := range c.Env {
			v, err := env.Text(t)
			if err != nil {
				return out, fmt.Errorf("env %s: %w", k, err)
			}
			out.Env = append(out.Env, k+"="+v)
		}
	}
	if !c.Dir.IsZero() {
		d, err := env.Text(c.Dir)
		if err != nil {
			return out, err
		}
		out.Dir = d
	}
	if !c.Stdin.IsZero() {
		s, err := env.Text(c.Stdin)
		if err != nil {
			return out, err
		}
		out.Stdin = strings.NewReader(s)
	}
	return out, nil
}

// Describe shows the command as a plan does: argv quoted, env names (values masked if secret).
func (c *Command) Describe(env *steps.Env) string {
	var b strings.Builder
	keys := make([]string, 0, len(c.Env))
	for k := range c.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.WriteString(k + "=" + shellQuote(env.Describe(c.Env[k])) + " ")
	}
	for i, a := range c.Argv {
		if i > 0 {
			b.WriteString(" ")
		}
		b.WriteString(shellQuote(env.Describe(a)))
	}
	if !c.Stdin.IsZero() {
		b.WriteString(" <<< " + shellQuote(env.Describe(c.Stdin)))
	}
	if !c.Dir.IsZero() {
		b.WriteString("   (in " + env.Describe(c.Dir) + ")")
	}
	return b.String()
}

// Run runs the command.
func (c *Command) Run(ctx context.Context, env *steps.Env, quiet bool) (proc.Result, error) {
	pc, err := c.Build(env)
	if err != nil {
		return proc.Result{}, err
	}
	pc.Quiet = quiet
	return proc.Run(ctx, env, pc)
}

// shellQuote quotes a word for display as a shell would need it (display only; cairn never runs a
// shell on these).
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:,+@%^•()", r)) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// exitCode returns a command's exit code from its error (0 for nil, -1 if it never ran).
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *proc.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode
	}
	return -1
}
