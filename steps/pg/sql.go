package pg

import (
	"context"
	"errors"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// SQL is the `sql` kind.
type SQL struct {
	Conn `yaml:",inline"`
	// Statements run in order, in one transaction unless NoTransaction (e.g. CREATE DATABASE).
	Statements    []ref.Template `yaml:"statements"`
	NoTransaction bool           `yaml:"no_transaction"`
	// Check returns true when the work is already done.
	CheckQuery ref.Template `yaml:"check"`
	// Verify returns true when the work is in place after apply.
	VerifyQuery ref.Template `yaml:"verify"`
	// Rollback statements undo the work (one transaction).
	RollbackStatements []ref.Template `yaml:"rollback"`
	// Capture is a query whose single row's columns become outputs (a column of array type becomes
	// a list output, usable by foreach). Declare the names in the step's `outputs:`.
	Capture ref.Template `yaml:"capture"`
	// ReadOnly marks a step that only reads (preflight, exports): Check says Ready-to-read.
	ReadOnly bool `yaml:"read_only"`
}

// registerSQL adds the `sql` kind.
func registerSQL(r *steps.Registry) {
	r.Register("sql", "SQL statements through pgx, with check, verify and rollback queries", func() steps.Step { return &SQL{} })
}

// Validate checks the decoded parameters.
func (s *SQL) Validate() error {
	if len(s.Statements) == 0 && s.Capture.IsZero() {
		return errors.New("give `statements:` (and/or `capture:`)")
	}
	return nil
}

// Describe lists the statements exactly as they will be sent.
func (s *SQL) Describe(env *steps.Env) []steps.Action {
	target := s.Conn.Describe(env)
	var out []steps.Action
	if !s.CheckQuery.IsZero() {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- check (true = already done)\n" + s.CheckQuery.DescribeSQL(env.Lookup)})
	}
	tx := !s.NoTransaction && len(s.Statements) > 1
	if tx {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "BEGIN"})
	}
	for _, st := range s.Statements {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: st.DescribeSQL(env.Lookup)})
	}
	if tx {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "COMMIT"})
	}
	if !s.Capture.IsZero() {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- outputs\n" + s.Capture.DescribeSQL(env.Lookup)})
	}
	if !s.VerifyQuery.IsZero() {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- verify (true = in place)\n" + s.VerifyQuery.DescribeSQL(env.Lookup)})
	}
	return out
}

// Check runs the check query.
func (s *SQL) Check(ctx context.Context, env *steps.Env) steps.Check {
	if s.CheckQuery.IsZero() {
		if s.ReadOnly || len(s.Statements) == 0 {
			return steps.ReadyTo(steps.Read, "reads only")
		}
		return steps.CannotTell("no check query: cairn cannot tell whether this was done")
	}
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the connection settings (PGHOST/PGPORT/PGUSER, .pgpass) and that the server is up")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	done, err := QueryBool(ctx, conn, env, s.CheckQuery)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.CannotTell("check query failed: %v", err)
	}
	if done {
		return steps.AlreadyDone("check query says the work is in place")
	}
	return steps.ReadyTo(steps.Update, "check query says the work is not done")
}

// Apply runs the statements.
func (s *SQL) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return nil, steps.Unchanged(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if err := s.exec(ctx, conn, env, s.Statements, !s.NoTransaction); err != nil {
		return nil, err
	}
	out := steps.Outputs{}
	if !s.Capture.IsZero() {
		if err := capture(ctx, conn, env, s.Capture, out); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// exec runs the statements, in one transaction when tx and there are several: a failure before
// the commit then changed nothing (steps.Unchanged), so a roll back does not undo the step.
func (s *SQL) exec(ctx context.Context, conn *pgx.Conn, env *steps.Env, stmts []ref.Template, tx bool) error {
	if tx && len(stmts) > 1 {
		t, err := conn.Begin(ctx)
		if err != nil {
			return steps.Unchanged(fmt.Errorf("begin: %w", err))
		}
		defer t.Rollback(context.WithoutCancel(ctx))
		for i, st := range stmts {
			sql, args, err := env.SQL(st)
			if err != nil {
				return steps.Unchanged(err)
			}
			tag, err := t.Exec(ctx, sql, args...)
			if err != nil {
				return steps.Unchanged(fmt.Errorf("statement %d (%s): %w; the transaction was rolled back, nothing changed", i+1, firstLine(st.Raw), err))
			}
			env.Info(tag.String())
		}
		if err := t.Commit(ctx); err != nil {
			return fmt.Errorf("commit: %w", err)
		}
		return nil
	}
	for i, st := range stmts {
		sql, args, err := env.SQL(st)
		if err != nil {
			return err
		}
		tag, err := conn.Exec(ctx, sql, args...)
		if err != nil {
			return fmt.Errorf("statement %d (%s): %w", i+1, firstLine(st.Raw), err)
		}
		env.Info(tag.String())
	}
	return nil
}

func capture(ctx context.Context, conn *pgx.Conn, env *steps.Env, q ref.Template, out steps.Outputs) error {
	sql, args, err := env.SQL(q)
	if err != nil {
		return err
	}
	rows, err := conn.Query(ctx, sql, args...)
	if err != nil {
		return fmt.Errorf("capture query: %w", err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return fmt.Errorf("capture query: %w", err)
		}
		return errors.New("capture query returned no row")
	}
	vals, err := rows.Values()
	if err != nil {
		return fmt.Errorf("capture query: %w", err)
	}
	for i, fd := range rows.FieldDescriptions() {
		switch v := vals[i].(type) {
		case []any:
			list := make([]string, 0, len(v))
			for _, x := range v {
				list = append(list, fmt.Sprint(x))
			}
			out[fd.Name] = steps.Output{List: list}
		case nil:
			out[fd.Name] = steps.Output{}
		default:
			out[fd.Name] = steps.Output{Value: fmt.Sprint(v)}
		}
	}
	rows.Close()
	return rows.Err()
}

// Verify runs the verify query.
func (s *SQL) Verify(ctx context.Context, env *steps.Env) error {
	if s.VerifyQuery.IsZero() {
		return nil
	}
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	ok, err := QueryBool(ctx, conn, env, s.VerifyQuery)
	if err != nil {
		return err
	}
	if !ok {
		return &steps.VerifyError{What: "verify query " + firstLine(s.VerifyQuery.Raw), Expected: "true", Found: "false"}
	}
	return nil
}

// Rollback runs the rollback statements.
func (s *SQL) Rollback(ctx context.Context, env *steps.Env) error {
	if len(s.RollbackStatements) == 0 {
		if s.ReadOnly || len(s.Statements) == 0 {
			return nil
		}
		return steps.NotReversible("the runbook gives no rollback statements for this step")
	}
	conn, err := s.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return s.exec(ctx, conn, env, s.RollbackStatements, !s.NoTransaction)
}
