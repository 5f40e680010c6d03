package pgdata

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// ReplicaIdentity is the `pg-replica-identity` kind: a table published for logical replication
// without a primary key or a usable replica identity makes the *source's own* UPDATEs and DELETEs on
// it fail ("cannot update table … because it does not have a replica identity and publishes
// updates"). This step finds those tables in every database of the source (the preflight lists
// them), and — confirmed by the engineer, never silently — sets `REPLICA IDENTITY FULL` on each: the
// whole old row is then written to WAL for every UPDATE and DELETE of that table (more WAL, and the
// subscriber finds the row by all its columns). A unique index on a NOT NULL column is not enough:
// DEFAULT uses the primary key only. Each table's previous identity (DEFAULT, NOTHING, or USING
// INDEX <name>) is recorded in the run's work directory before it is changed; rollback puts exactly
// that back. It changes nothing else.
type ReplicaIdentity struct {
	Source Server `yaml:"source"`
}

// OutputNames declares the outputs.
func (r *ReplicaIdentity) OutputNames() []string { return []string{"tables"} }

// Describe lists the statements.
func (r *ReplicaIdentity) Describe(env *steps.Env) []steps.Action {
	t := r.Source.describe(env)
	return []steps.Action{
		{Kind: steps.ActSQL, Target: t, Text: "-- per database: the tables without a primary key or usable replica identity (relreplident n, d without a primary key, i without a valid index)\nSELECT … FROM pg_class WHERE relkind = 'r' AND …"},
		{Kind: steps.ActSQL, Target: t, Text: "ALTER TABLE <each such table> REPLICA IDENTITY FULL;   -- its previous identity recorded first; rollback: ALTER TABLE … REPLICA IDENTITY <what it was>"},
	}
}

// identityRecord is the work-dir record of the identities this step changed: database → table →
// the identity it had ("DEFAULT", "NOTHING", "USING INDEX <quoted name>").
type identityRecord struct {
	path   string
	Tables map[string]map[string]string `json:"tables"`
}

func identityRecordOf(env *steps.Env) (*identityRecord, error) {
	r := &identityRecord{Tables: map[string]map[string]string{}}
	var err error
	if r.path, _, err = workRecord(env, "identity", "the record of the replica identities this run changed", r); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *identityRecord) save() error { return saveRecord(r.path, r) }

// missing lists, per database, the tables still without a usable identity.
func (r *ReplicaIdentity) missing(ctx context.Context, env *steps.Env) (dsn, map[string][]string, int, error) {
	src, dbs, _, err := sourceDatabases(ctx, env, r.Source)
	if err != nil {
		return src, nil, 0, err
	}
	out, n := map[string][]string{}, 0
	for _, db := range dbs {
		c, err := src.connect(ctx, db)
		if err != nil {
			return src, nil, 0, err
		}
		ts, err := tablesWithoutIdentity(ctx, c)
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return src, nil, 0, err
		}
		if len(ts) > 0 {
			out[db] = ts
			n += len(ts)
		}
	}
	return src, out, n, nil
}

func flat(m map[string][]string) []string {
	var out []string
	for _, db := range sortedKeys(m) {
		for _, t := range m[db] {
			out = append(out, db+":"+t)
		}
	}
	return out
}

// Check says which tables are still without a usable identity.
func (r *ReplicaIdentity) Check(ctx context.Context, env *steps.Env) steps.Check {
	_, m, n, err := r.missing(ctx, env)
	if err != nil {
		return unknownOr(err, "check the source's connection and credentials")
	}
	if n == 0 {
		return steps.AlreadyDone("every published table has a primary key or a usable replica identity")
	}
	return steps.ReadyTo(steps.Update, "set REPLICA IDENTITY FULL on %d tables without a primary key or usable replica identity: %s", n, strings.Join(flat(m), ", "))
}

// Apply records each table's identity, then sets FULL.
func (r *ReplicaIdentity) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	src, m, _, err := r.missing(ctx, env)
	if err != nil {
		return nil, err
	}
	rec, err := identityRecordOf(env)
	if err != nil {
		return nil, err
	}
	for _, db := range sortedKeys(m) {
		c, err := src.connect(ctx, db)
		if err != nil {
			return nil, err
		}
		err = func() error {
			defer c.Close(context.WithoutCancel(ctx))
			if rec.Tables[db] == nil {
				rec.Tables[db] = map[string]string{}
			}
			for _, t := range m[db] {
				if _, ok := rec.Tables[db][t]; !ok { // a resumed apply keeps the first record
					prev, err := identityOf(ctx, c, t)
					if err != nil {
						return err
					}
					rec.Tables[db][t] = prev
				}
				if err := rec.save(); err != nil {
					return err
				}
				if _, err := c.Exec(ctx, "ALTER TABLE "+t+" REPLICA IDENTITY FULL"); err != nil {
					return fmt.Errorf("%s: ALTER TABLE %s REPLICA IDENTITY FULL: %w", db, t, err)
				}
				env.Info(fmt.Sprintf("%s: %s REPLICA IDENTITY FULL (was %s)", db, t, rec.Tables[db][t]))
			}
			return nil
		}()
		if err != nil {
			return nil, err
		}
	}
	return steps.Outputs{"tables": steps.Output{List: flat(m)}}, nil
}

// identityOf reads a table's replica identity as an ALTER TABLE clause.
func identityOf(ctx context.Context, c *pgx.Conn, table string) (string, error) {
	var kind, index string
	err := c.QueryRow(ctx, `SELECT c.relreplident::text, coalesce((SELECT quote_ident(x.relname) FROM pg_index i JOIN pg_class x ON x.oid = i.indexrelid
		WHERE i.indrelid = c.oid AND i.indisreplident), '') FROM pg_class c WHERE c.oid = $1::regclass`, table).Scan(&kind, &index)
	if err != nil {
		return "", fmt.Errorf("read the replica identity of %s: %w", table, err)
	}
	switch kind {
	case "n":
		return "NOTHING", nil
	case "f":
		return "FULL", nil
	case "i":
		if index != "" {
			return "USING INDEX " + index, nil
		}
	}
	return "DEFAULT", nil
}

// Observe lists the tables this run set FULL.
func (r *ReplicaIdentity) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	rec, err := identityRecordOf(env)
	if err != nil {
		return nil, err
	}
	m := map[string][]string{}
	for db, ts := range rec.Tables {
		m[db] = sortedKeys(ts)
	}
	return steps.Outputs{"tables": steps.Output{List: flat(m)}}, nil
}

// Verify proves no table is left without a usable identity.
func (r *ReplicaIdentity) Verify(ctx context.Context, env *steps.Env) error {
	_, m, n, err := r.missing(ctx, env)
	if err != nil {
		return err
	}
	if n > 0 {
		return &steps.VerifyError{What: "replica identity", Expected: "every table with a primary key or a usable replica identity", Found: strings.Join(flat(m), ", ") + " without"}
	}
	return nil
}

// Rollback puts back each recorded table's previous identity, where it is still FULL.
func (r *ReplicaIdentity) Rollback(ctx context.Context, env *steps.Env) error {
	rec, err := identityRecordOf(env)
	if err != nil {
		return err
	}
	if len(rec.Tables) == 0 {
		return nil
	}
	src, err := r.Source.resolve(ctx, env)
	if err != nil {
		return err
	}
	for _, db := range sortedKeys(rec.Tables) {
		c, err := src.connect(ctx, db)
		if err != nil {
			return err
		}
		err = func() error {
			defer c.Close(context.WithoutCancel(ctx))
			for _, t := range sortedKeys(rec.Tables[db]) {
				now, err := identityOf(ctx, c, t)
				if err != nil || now != "FULL" {
					continue // dropped since, or changed by someone else: left as it is
				}
				if _, err := c.Exec(ctx, "ALTER TABLE "+t+" REPLICA IDENTITY "+rec.Tables[db][t]); err != nil {
					return fmt.Errorf("%s: put back the replica identity of %s: %w", db, t, err)
				}
				env.Info(fmt.Sprintf("%s: %s REPLICA IDENTITY %s again", db, t, rec.Tables[db][t]))
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	rec.Tables = map[string]map[string]string{}
	return rec.save()
}
