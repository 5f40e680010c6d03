package pgdata

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Restore is the `pg-restore` kind: each database of the dump's manifest is restored into a fresh
// database (with its owner, encoding, locale, database-level grants and settings) — schema by
// `pg_restore --create --section=pre-data`, rows by cairn's parallel COPY FREEZE from the dump's
// files with each table's indexes built as it lands, the rest by `pg_restore -j N` (see
// restoreOne) — then its rows are counted against the manifest. On any error
// the half-restored database is dropped before the step fails: none is ever left behind. A database
// found on the target whose rows do not match (an interrupted restore) is dropped and restored again
// — only when this run created it (the run's work-dir record of the databases it creates, with their
// OIDs: created); one of the same name that this run did not create is Blocked, never touched.
type Restore struct {
	Target Server       `yaml:"target"`
	Dir    ref.Template `yaml:"dir"`
	Jobs   ref.Template `yaml:"jobs"`
	// SourceID is the source the dump must have been taken from (its DbiResourceId, from
	// rds-preflight, or a server's system identifier); the dump must also be this run's. Another
	// run's or source's dump in Dir is Blocked, never restored.
	SourceID ref.Template `yaml:"source-id"`

	method string // the manifest's method: "dump" (default), "stream" for a streamed copy's record
}

// OutputNames declares the outputs.
func (r *Restore) OutputNames() []string { return []string{"databases"} }

// Validate checks the parameters.
func (r *Restore) Validate() error {
	if r.Dir.IsZero() {
		return fmt.Errorf("give `dir:` (the dump directory)")
	}
	return nil
}

// Describe lists the commands.
func (r *Restore) Describe(env *steps.Env) []steps.Action {
	dir := env.Describe(r.Dir)
	j := orDefault(env.Describe(r.Jobs), "2")
	return []steps.Action{
		{Kind: steps.ActFile, Target: "local", Text: fmt.Sprintf("%s/%s: only a dump this run took%s (its recorded provenance); another run's or source's is refused", dir, manifestName, sourceWords(env, r.SourceID))},
		{Kind: steps.ActExec, Target: r.Target.describe(env), Text: fmt.Sprintf("for each database in %s/%s:\npg_restore --create --exit-on-error --section=pre-data -d postgres %s/<db>.dir", dir, manifestName, dir)},
		{Kind: steps.ActSQL, Target: r.Target.describe(env), Text: fmt.Sprintf("%s workers, each table in one transaction:\nBEGIN; TRUNCATE ONLY <table>; COPY <table> (<cols>) FROM STDIN (FORMAT text, FREEZE) ← %s/<db>.dir/<id>.dat[.gz]; COMMIT;\nthen the table's indexes and keys as recorded in the manifest (CREATE INDEX …; ALTER TABLE ONLY … ADD CONSTRAINT …),\nafter SET max_parallel_maintenance_workers = 0 while another worker is busy (RESET for the last table standing)", j, dir)},
		{Kind: steps.ActExec, Target: r.Target.describe(env), Text: fmt.Sprintf("pg_restore --exit-on-error -j %s --section=data --section=post-data -L <the list without what cairn loaded and built> -d <db> %s/<db>.dir", j, dir)},
		{Kind: steps.ActSQL, Target: r.Target.describe(env), Text: "-- only if pg_restore failed:\nDROP DATABASE IF EXISTS <db> WITH (FORCE)"},
		{Kind: steps.ActSQL, Target: r.Target.describe(env), Text: "SELECT count(*) FROM <each table>   -- must equal the manifest's rows"},
	}
}

// state counts what the target holds of each manifest database: nil rows when absent.
func (r *Restore) state(ctx context.Context, env *steps.Env) (dsn, *Manifest, map[string][]string, error) {
	dir, err := env.Text(r.Dir)
	if err != nil {
		return dsn{}, nil, nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return dsn{}, nil, nil, fmt.Errorf("no complete dump in %s: %w", dir, err)
	}
	sid, err := env.OptionalText(r.SourceID)
	if err != nil {
		return dsn{}, nil, nil, err
	}
	what := map[string]string{"": "the dump in ", "dump": "the dump in ", "stream": "the record of the streamed copy in "}[r.method] + dir
	if err := boundTo(what, dir, m.Provenance, env.RunID, sid); err != nil {
		return dsn{}, m, nil, err
	}
	if want := orDefault(r.method, "dump"); m.Method != want {
		return dsn{}, m, nil, foreign(fmt.Sprintf("the manifest in %s records a %s, not a %s", dir, m.Method, want), moveAside(dir))
	}
	tgt, err := r.Target.resolve(ctx, env)
	if err != nil {
		return tgt, m, nil, err
	}
	own, err := createdBy(env)
	if err != nil {
		return tgt, m, nil, err
	}
	diffs, err := targetDiffs(ctx, tgt, m, own)
	return tgt, m, diffs, err
}

// targetDiffs compares each manifest database with the target; a database absent is "absent". A
// database of the name that this run did not create (own) is an error: it is someone else's.
func targetDiffs(ctx context.Context, tgt dsn, m *Manifest, own *created) (map[string][]string, error) {
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	out := map[string][]string{}
	for _, db := range m.Databases {
		oid, err := databaseOID(ctx, c, db.Name)
		if err != nil {
			return nil, err
		}
		if oid == 0 {
			out[db.Name] = []string{"absent"}
			continue
		}
		if !own.ours(db.Name, oid) {
			return nil, notOurs(tgt, db.Name, oid)
		}
		dc, err := tgt.connect(ctx, db.Name)
		if err != nil {
			return nil, err
		}
		rows, sums, err := countTables(ctx, dc, db.Checksums != nil)
		dc.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		out[db.Name] = compare(db, rows, sums)
	}
	return out, nil
}

// Check says which databases are still to restore.
func (r *Restore) Check(ctx context.Context, env *steps.Env) steps.Check {
	_, m, diffs, err := r.state(ctx, env)
	if err != nil {
		return unknownOr(err, "the dump step must have finished; check the target's connection")
	}
	var todo []string
	for _, db := range m.Databases {
		if len(diffs[db.Name]) > 0 {
			todo = append(todo, db.Name)
		}
	}
	if len(todo) == 0 {
		return steps.AlreadyDone("all %d databases are on the target with the dumped rows", len(m.Databases))
	}
	return steps.ReadyTo(steps.Create, "restore %s", strings.Join(todo, ", "))
}

// Apply restores each database not yet there.
func (r *Restore) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	tgt, m, diffs, err := r.state(ctx, env)
	if err != nil {
		return nil, err
	}
	dir, _ := env.Text(r.Dir)
	jobs, err := jobsOf(env, r.Jobs)
	if err != nil {
		return nil, err
	}
	own, err := createdBy(env)
	if err != nil {
		return nil, err
	}
	var names []string
	for i, db := range m.Databases {
		names = append(names, db.Name)
		env.Out.Progress(float64(i), float64(len(m.Databases)), "databases")
		d := diffs[db.Name]
		if len(d) == 0 {
			env.Info(db.Name + " is already restored: skipped")
			continue
		}
		if d[0] != "absent" {
			env.Info(db.Name + " is on the target but incomplete (" + d[0] + "): dropping it and restoring again")
			if err := own.dropOurs(ctx, tgt, db.Name); err != nil {
				return nil, err
			}
		}
		if err := own.mark(db.Name, 0); err != nil { // before it exists: an interrupted restore's database is this run's
			return nil, err
		}
		env.Info(fmt.Sprintf("restoring %s with %d jobs", db.Name, jobs))
		if err := r.restoreOne(ctx, env, tgt, dir, db, jobs); err != nil {
			derr := dropDatabase(context.WithoutCancel(ctx), tgt, db.Name)
			if derr != nil {
				return nil, steps.Failed("drop it by hand: DROP DATABASE "+ident(db.Name)+" WITH (FORCE)", "restore of %s failed: %w; and dropping the half-restored database failed too: %v", db.Name, err, derr)
			}
			env.Info("restore of " + db.Name + " failed: the half-restored database was dropped")
			return nil, fmt.Errorf("restore of %s failed, the half-restored database was dropped (nothing of it is left on the target): %w", db.Name, err)
		}
		if err := own.recordCreated(ctx, tgt, db.Name); err != nil {
			return nil, err
		}
	}
	env.Out.Progress(float64(len(m.Databases)), float64(len(m.Databases)), "databases")
	return steps.Outputs{}.Set("databases", strings.Join(names, ",")), nil
}

func dropDatabase(ctx context.Context, tgt dsn, db string) error {
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if _, err := c.Exec(ctx, "DROP DATABASE IF EXISTS "+ident(db)+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", db, err)
	}
	return nil
}

// Observe reads the outputs of a restore found done.
func (r *Restore) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	dir, err := env.Text(r.Dir)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, db := range m.Databases {
		names = append(names, db.Name)
	}
	return steps.Outputs{}.Set("databases", strings.Join(names, ",")), nil
}

// Verify counts every table against the manifest and lists every difference.
func (r *Restore) Verify(ctx context.Context, env *steps.Env) error {
	_, m, diffs, err := r.state(ctx, env)
	if err != nil {
		return err
	}
	return diffError(m, diffs)
}

func diffError(m *Manifest, diffs map[string][]string) error {
	var all []string
	for _, db := range m.Databases {
		for _, d := range diffs[db.Name] {
			if d == "absent" {
				d = db.Name + ": database absent on the target"
			}
			all = append(all, d)
		}
	}
	if len(all) > 0 {
		return &steps.VerifyError{What: "rows on the target", Expected: "the source snapshot's rows", Found: fmt.Sprintf("%d differences: %s", len(all), strings.Join(all, "; "))}
	}
	return nil
}

// Rollback drops the restored databases from the target.
func (r *Restore) Rollback(ctx context.Context, env *steps.Env) error {
	tgt, m, _, err := r.state(ctx, env)
	if err != nil {
		return err
	}
	own, err := createdBy(env)
	if err != nil {
		return err
	}
	for _, db := range m.Databases {
		if err := own.dropOurs(ctx, tgt, db.Name); err != nil {
			return err
		}
	}
	return nil
}
