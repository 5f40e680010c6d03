package generic

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/pg"
)

// Wait is the `wait` kind: poll a condition — a SQL query returning true, or a command exiting 0 —
// every Interval until it holds or Timeout passes, reporting elapsed time as progress.
type Wait struct {
	pg.Conn  `yaml:",inline"`
	Query    ref.Template `yaml:"query"`
	Cmd      *Command     `yaml:"command"`
	Interval Duration     `yaml:"interval"`
	Timeout  Duration     `yaml:"timeout"`
	What     string       `yaml:"what"` // "the replica to catch up"
}

// Duration reads "10s".
type Duration time.Duration

// UnmarshalYAML reads a Go duration ("2s", "10m"); a bare number or a negative one is refused with
// the field's position and what to write instead.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	v, err := steps.ParseDuration(n.GetToken(), 0, "")
	*d = Duration(v)
	return err
}

// Validate needs exactly one condition.
func (w *Wait) Validate() error {
	if w.Query.IsZero() == w.Cmd.IsZero() {
		return errors.New("give exactly one of `query:` (true when ready) or `command:` (exit 0 when ready)")
	}
	return nil
}

func (w *Wait) interval() time.Duration {
	if w.Interval <= 0 {
		return 2 * time.Second
	}
	return time.Duration(w.Interval)
}

func (w *Wait) timeout() time.Duration {
	if w.Timeout <= 0 {
		return 30 * time.Minute
	}
	return time.Duration(w.Timeout)
}

// Describe says what is polled.
func (w *Wait) Describe(env *steps.Env) []steps.Action {
	cond := ""
	if !w.Query.IsZero() {
		cond = w.Query.DescribeSQL(env.Lookup) + "   -- on " + w.Conn.Describe(env)
	} else {
		cond = w.Cmd.Describe(env)
	}
	return []steps.Action{{Kind: steps.ActWait, Target: "poll", Text: fmt.Sprintf("every %s, up to %s, until:\n%s", w.interval(), w.timeout(), cond)}}
}

func (w *Wait) holds(ctx context.Context, env *steps.Env) (bool, error) {
	if !w.Query.IsZero() {
		conn, err := w.Connect(ctx, env)
		if err != nil {
			return false, err
		}
		defer conn.Close(context.WithoutCancel(ctx))
		return pg.QueryBool(ctx, conn, env, w.Query)
	}
	_, err := w.Cmd.Run(ctx, env, true)
	if code := exitCode(err); code == 0 {
		return true, nil
	} else if code > 0 {
		return false, nil
	}
	return false, err
}

// Check says whether the condition already holds.
func (w *Wait) Check(ctx context.Context, env *steps.Env) steps.Check {
	ok, err := w.holds(ctx, env)
	if err != nil {
		return steps.ReadyTo(steps.Read, "will wait (%v)", err)
	}
	if ok {
		return steps.AlreadyDone("the condition already holds")
	}
	return steps.ReadyTo(steps.Read, "will wait for %s", w.what())
}

func (w *Wait) what() string {
	if w.What != "" {
		return w.What
	}
	return "the condition"
}

// Apply polls.
func (w *Wait) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	start := time.Now()
	deadline := start.Add(w.timeout())
	var lastErr error
	for {
		ok, err := w.holds(ctx, env)
		if ok {
			return nil, nil
		}
		lastErr = err
		el := time.Since(start)
		env.Out.Progress(el.Seconds(), w.timeout().Seconds(), "s")
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("gave up waiting for %s after %s", w.what(), w.timeout())
			if lastErr != nil {
				msg += ": last error: " + lastErr.Error()
			}
			return nil, errors.New(msg)
		}
		env.Info(fmt.Sprintf("Still waiting for %s… [%s elapsed]", w.what(), el.Round(time.Second)))
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(w.interval()):
		}
	}
}

// Verify re-tests the condition.
func (w *Wait) Verify(ctx context.Context, env *steps.Env) error {
	ok, err := w.holds(ctx, env)
	if err != nil {
		return err
	}
	if !ok {
		return &steps.VerifyError{What: w.what(), Expected: "condition holds", Found: "it does not"}
	}
	return nil
}

// Rollback: waiting changed nothing.
func (w *Wait) Rollback(context.Context, *steps.Env) error { return nil }

// Register adds the generic kinds.
func Register(r *steps.Registry) {
	r.Register("exec", "run a command (argv), with check, verify and rollback commands", func() steps.Step { return &Exec{} })
	r.Register("manual", "a checklist the engineer ticks off by hand", func() steps.Step { return &Manual{} })
	r.Register("wait", "poll a SQL condition or a command until it holds", func() steps.Step { return &Wait{} })
}
