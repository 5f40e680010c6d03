package pgdata

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// CompareRows is the `pg-compare-rows` kind: for a physical copy (an instance restored from a
// snapshot of a quiesced source) it reads every user table's row count, and the large objects, in
// every database of the source and of the copy — each database under one REPEATABLE READ snapshot
// per side — and fails listing every difference: a table or database missing, extra or with another
// count. Cheap, and the only proof that the right snapshot was restored. It reads only.
type CompareRows struct {
	Source Server `yaml:"source"`
	Target Server `yaml:"target"`
}

// Describe lists the queries.
func (r *CompareRows) Describe(env *steps.Env) []steps.Action {
	q := "per database (every connectable one but templates and rdsadmin), in one REPEATABLE READ READ ONLY transaction:\n" +
		"  SELECT count(*) FROM ONLY <each user table>; SELECT count(*) FROM pg_largeobject_metadata"
	return []steps.Action{
		{Kind: steps.ActSQL, Target: r.Source.describe(env), Text: q},
		{Kind: steps.ActSQL, Target: r.Target.describe(env), Text: q + "\n-- every count must equal the source's"},
	}
}

// Check is ready to read.
func (r *CompareRows) Check(ctx context.Context, env *steps.Env) steps.Check {
	return steps.ReadyTo(steps.Read, "compare every table's row count between the source and the copy")
}

// allDatabases lists the databases a physical copy carries: every connectable one but the
// templates and RDS's own (the postgres database included).
func allDatabases(ctx context.Context, c *pgx.Conn) ([]string, error) {
	rows, err := c.Query(ctx, `SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate
		AND datname <> 'rdsadmin' ORDER BY datname`)
	if err != nil {
		return nil, fmt.Errorf("list databases: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// countSide counts one database's tables on one side, under one snapshot.
func countSide(ctx context.Context, d dsn, db string) (map[string]int64, error) {
	c, err := d.connect(ctx, db)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, _, err := countTables(ctx, tx.Conn(), false)
	if err != nil {
		return nil, fmt.Errorf("%s database %s: %w", d.Label, db, err)
	}
	return rows, nil
}

// Apply compares.
func (r *CompareRows) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	src, err := r.Source.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	tgt, err := r.Target.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	list := func(d dsn) ([]string, error) {
		c, err := d.connect(ctx, "")
		if err != nil {
			return nil, err
		}
		defer c.Close(context.WithoutCancel(ctx))
		return allDatabases(ctx, c)
	}
	sdbs, err := list(src)
	if err != nil {
		return nil, err
	}
	tdbs, err := list(tgt)
	if err != nil {
		return nil, err
	}
	var diffs []string
	onTarget := map[string]bool{}
	for _, db := range tdbs {
		onTarget[db] = true
	}
	tables, rowsTotal := 0, int64(0)
	for _, db := range sdbs {
		if !onTarget[db] {
			diffs = append(diffs, "database "+db+": missing on the copy")
			continue
		}
		delete(onTarget, db)
		want, err := countSide(ctx, src, db)
		if err != nil {
			return nil, err
		}
		got, err := countSide(ctx, tgt, db)
		if err != nil {
			return nil, err
		}
		d := compare(Database{Name: db, Rows: want}, got, nil)
		diffs = append(diffs, d...)
		var n int64
		for _, v := range want {
			n += v
		}
		tables += len(want)
		rowsTotal += n
		if len(d) == 0 {
			env.Info(fmt.Sprintf("%s: %d tables, %d rows — row counts equal on the copy", db, len(want), n))
		}
	}
	for _, db := range sortedKeys(onTarget) {
		diffs = append(diffs, "database "+db+": on the copy but not on the source")
	}
	if len(diffs) > 0 {
		return nil, fmt.Errorf("the copy does not hold what the quiesced source holds (%d differences) — it is not a copy of the source as it stands, or the source was written to after the snapshot; nothing was swapped:\n%s",
			len(diffs), strings.Join(diffs, "\n"))
	}
	return steps.Outputs{}.Set("tables", fmt.Sprint(tables)).Set("rows", fmt.Sprint(rowsTotal)), nil
}

// OutputNames declares the outputs.
func (r *CompareRows) OutputNames() []string { return []string{"tables", "rows"} }

// Verify: the comparison is its apply.
func (r *CompareRows) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (r *CompareRows) Rollback(context.Context, *steps.Env) error { return nil }
