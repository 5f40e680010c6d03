package dblink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// ExtensionMarker is the comment cairn puts on an extension it creates; rollback drops only those.
const ExtensionMarker = "created by cairn (rollback drops it)"

// Extension is the `pg-extension` kind: CREATE EXTENSION … CASCADE for each named extension missing
// from the database, each one created (with those CASCADE brought) marked by its comment. Rollback
// drops, newest first and without CASCADE, only the extensions so marked among those named and the
// ones they require.
type Extension struct {
	Target     `yaml:",inline"`
	Extensions []ref.Template `yaml:"extensions"`
}

// Validate checks the parameters.
func (e *Extension) Validate() error {
	if e.Instance.IsZero() || len(e.Extensions) == 0 {
		return errors.New("give `instance:` and `extensions:`")
	}
	return nil
}

func (e *Extension) names(env *steps.Env) ([]string, error) {
	var out []string
	for _, t := range e.Extensions {
		v, err := env.Text(t)
		if err != nil {
			return nil, err
		}
		if !identRE.MatchString(v) {
			return nil, fmt.Errorf("extension %q is not an extension name", v)
		}
		out = append(out, v)
	}
	return out, nil
}

// Describe lists the statements.
func (e *Extension) Describe(env *steps.Env) []steps.Action {
	target := e.Target.describe(env)
	var acts []steps.Action
	for _, t := range e.Extensions {
		n := env.Describe(t)
		acts = append(acts,
			steps.Action{Kind: steps.ActSQL, Target: target, Text: "CREATE EXTENSION IF NOT EXISTS " + n + " CASCADE  -- when missing"},
			steps.Action{Kind: steps.ActSQL, Target: target, Text: "COMMENT ON EXTENSION <each one created> IS " + literal(ExtensionMarker)})
	}
	return acts
}

type extState struct {
	installed map[string]string // name → comment
	available map[string]bool
	order     []string // installed, oldest first
}

func lookExtensions(ctx context.Context, c *pgx.Conn) (extState, error) {
	st := extState{installed: map[string]string{}, available: map[string]bool{}}
	rows, err := c.Query(ctx, `SELECT extname, coalesce(obj_description(oid, 'pg_extension'), '') FROM pg_extension ORDER BY oid`)
	if err != nil {
		return st, fmt.Errorf("read pg_extension: %w", err)
	}
	for rows.Next() {
		var n, cm string
		if err := rows.Scan(&n, &cm); err != nil {
			return st, err
		}
		st.installed[n] = cm
		st.order = append(st.order, n)
	}
	if err := rows.Err(); err != nil {
		return st, err
	}
	names, err := c.Query(ctx, `SELECT name FROM pg_available_extensions`)
	if err != nil {
		return st, fmt.Errorf("read pg_available_extensions: %w", err)
	}
	avail, err := pgx.CollectRows(names, pgx.RowTo[string])
	if err != nil {
		return st, err
	}
	for _, n := range avail {
		st.available[n] = true
	}
	return st, nil
}

// Check says which extensions are missing.
func (e *Extension) Check(ctx context.Context, env *steps.Env) steps.Check {
	names, err := e.names(env)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.BlockedBy(err.Error(), "fix the extension names")
	}
	c, err := e.connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the instance, credentials-secret (or PGUSER/PGPASSWORD) and PGSSLROOTCERT (the RDS CA bundle)")
	}
	defer c.Close(context.WithoutCancel(ctx))
	st, err := lookExtensions(ctx, c)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	var missing, unavailable []string
	for _, n := range names {
		if _, ok := st.installed[n]; ok {
			continue
		}
		missing = append(missing, n)
		if !st.available[n] {
			unavailable = append(unavailable, n)
		}
	}
	switch {
	case len(unavailable) > 0:
		return steps.BlockedBy(fmt.Sprintf("extension %s is not available on this server (pg_available_extensions)", strings.Join(unavailable, ", ")),
			"use an engine version that ships it (aws_lambda: RDS for PostgreSQL 12.6+, 13.2+, 14.1+, 15+; Aurora PostgreSQL 11.9+), or check rds.allowed_extensions in the parameter group")
	case len(missing) == 0:
		return steps.AlreadyDone("extensions %s are installed", strings.Join(names, ", "))
	}
	return steps.ReadyTo(steps.Create, "extensions %s are missing → create them", strings.Join(missing, ", "))
}

// Apply creates the missing extensions and marks those it created, in one transaction.
func (e *Extension) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	names, err := e.names(env)
	if err != nil {
		return nil, err
	}
	c, err := e.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	before, err := lookExtensions(ctx, c)
	if err != nil {
		return nil, err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, n := range names {
		if _, ok := before.installed[n]; ok {
			continue
		}
		if _, err := tx.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS "+ident(n)+" CASCADE"); err != nil {
			return nil, fmt.Errorf("CREATE EXTENSION %s CASCADE: %w; rolled back, nothing changed", n, err)
		}
	}
	rows, err := tx.Query(ctx, `SELECT extname FROM pg_extension ORDER BY oid`)
	if err != nil {
		return nil, err
	}
	now, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, err
	}
	for _, n := range now {
		if _, had := before.installed[n]; had {
			continue
		}
		if _, err := tx.Exec(ctx, "COMMENT ON EXTENSION "+ident(n)+" IS "+literal(ExtensionMarker)); err != nil {
			return nil, fmt.Errorf("mark extension %s: %w; rolled back, nothing changed", n, err)
		}
		env.Info("created extension " + n)
	}
	return steps.Outputs{}, tx.Commit(ctx)
}

// Verify reads the extensions back.
func (e *Extension) Verify(ctx context.Context, env *steps.Env) error {
	names, err := e.names(env)
	if err != nil {
		return err
	}
	c, err := e.connect(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	st, err := lookExtensions(ctx, c)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, ok := st.installed[n]; !ok {
			return &steps.VerifyError{What: "extension " + n, Expected: "installed", Found: "missing"}
		}
	}
	return nil
}

// Rollback drops the extensions cairn created, newest first, without CASCADE.
func (e *Extension) Rollback(ctx context.Context, env *steps.Env) error {
	c, err := e.connect(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	st, err := lookExtensions(ctx, c)
	if err != nil {
		return err
	}
	names, err := e.names(env)
	if err != nil {
		return err
	}
	ours := slices.Clone(names)
	for _, n := range names {
		var req []string
		err := c.QueryRow(ctx, `SELECT coalesce(requires::text[], '{}') FROM pg_available_extension_versions WHERE name = $1 AND installed`, n).Scan(&req)
		if err == nil {
			ours = append(ours, req...)
		}
	}
	var drop []string
	for _, n := range slices.Backward(st.order) {
		if st.installed[n] == ExtensionMarker && slices.Contains(ours, n) {
			drop = append(drop, "DROP EXTENSION "+ident(n))
		}
	}
	if len(drop) == 0 {
		return nil
	}
	return inTx(ctx, c, env, drop)
}
