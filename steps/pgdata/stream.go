package pgdata

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Stream is the `pg-stream-copy` kind: each database goes straight from source to target, no
// intermediate data file (the source and the insurance snapshot are the safety net). Per database:
// a snapshot is exported and held; the schema's pre-data is restored with `pg_restore --create`
// (the database, owner, grants, types, tables without indexes); the rows move with binary COPY by
// Jobs workers in parallel, all under the exported snapshot, relayed at the wire level (relayCopy),
// each whole table emptied and loaded frozen in one transaction, and each table's indexes and key
// constraints built by its worker as soon as its rows are in (the loader); tables are split into
// ctid ranges only for a PostgreSQL 16+ target. Then sequences are set from the snapshot, large
// objects copied, and the rest of post-data (foreign keys, triggers, what pg_dump adds statements
// to) restored by `pg_restore -j N`. Rows copied per table are recorded in Dir's manifest. On any
// error the half-copied database is dropped.
type Stream struct {
	Source Server       `yaml:"source"`
	Target Server       `yaml:"target"`
	Dir    ref.Template `yaml:"dir"`
	Jobs   ref.Template `yaml:"jobs"`
	// Databases limits the copy to these (comma-separated); default every non-template database.
	Databases ref.Template `yaml:"databases"`
	// Quiesce is the quiesce's state output: a copy read before its WAL position is not done.
	Quiesce ref.Template `yaml:"quiesce"`
}

// OutputNames declares the outputs.
func (s *Stream) OutputNames() []string { return []string{"manifest", "databases"} }

// Validate checks the parameters.
func (s *Stream) Validate() error {
	if s.Dir.IsZero() {
		return fmt.Errorf("give `dir:` (where the manifest of rows copied is kept)")
	}
	return nil
}

// Describe lists what runs.
func (s *Stream) Describe(env *steps.Env) []steps.Action {
	src, tgt, j := s.Source.describe(env), s.Target.describe(env), orDefault(env.Describe(s.Jobs), "2")
	return []steps.Action{
		{Kind: steps.ActSQL, Target: src, Text: provenanceSQL},
		{Kind: steps.ActFile, Target: "local", Text: env.Describe(s.Dir) + "/" + ownerName + "   (written first: the source's identity, this run's id, the WAL position; a directory holding another source's or another run's dump or copy record is refused" + strings.Replace(quiesceWords(s.Quiesce), "dump", "copy", 1) + ")"},
		{Kind: steps.ActSQL, Target: src, Text: "-- per database, held open for the copy:\nBEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();"},
		{Kind: steps.ActExec, Target: src, Text: "pg_dump -Fc --section=pre-data --section=post-data --snapshot=<exported> -f <work>/<db>.schema <db>"},
		{Kind: steps.ActExec, Target: tgt, Text: "pg_restore --create --exit-on-error --section=pre-data -d postgres <work>/<db>.schema"},
		{Kind: steps.ActSQL, Target: src, Text: "-- under the exported snapshot: the tables, and each plain table's indexes and keys\nSELECT … FROM pg_class …; SELECT pg_get_indexdef(…), pg_get_constraintdef(…) FROM pg_index …"},
		{Kind: steps.ActSQL, Target: src + " → " + tgt, Text: fmt.Sprintf("%s workers, largest table first, each under the exported snapshot:\nCOPY <table> (<cols>) TO STDOUT (FORMAT binary) → BEGIN; TRUNCATE ONLY <table>; COPY <table> (<cols>) FROM STDIN (FORMAT binary, FREEZE); COMMIT;\nthen that table's indexes and keys: CREATE INDEX …; ALTER TABLE ONLY … ADD CONSTRAINT …,\nafter SET max_parallel_maintenance_workers = 0 while another worker is busy (RESET for the last table standing)", j)},
		{Kind: steps.ActSQL, Target: tgt, Text: "SELECT setval(<each sequence>, <its value in the snapshot>)"},
		{Kind: steps.ActExec, Target: src + " → " + tgt, Text: "-- only when the database has large objects:\npg_dump -Fc --section=data --exclude-table='*.*' --snapshot=<exported> <db> → pg_restore --exit-on-error --section=data -d <db>"},
		{Kind: steps.ActExec, Target: tgt, Text: "pg_restore --exit-on-error -j " + j + " --section=post-data -L <the list without what cairn built> -d <db> <work>/<db>.schema   (only if anything is left)"},
	}
}

// Check says whether every database is on the target with the rows this run copied from the source
// as it is now, after the quiesce. Another source's or run's record in Dir is Blocked.
func (s *Stream) Check(ctx context.Context, env *steps.Env) steps.Check {
	dir, err := env.Text(s.Dir)
	if err != nil {
		return unknownOr(err, "")
	}
	p, err := lookAt(ctx, env, s.Source, s.Databases, s.Quiesce, dir)
	if err != nil {
		return unknownOr(err, "check the source's connection and the directory")
	}
	if ch, ok := p.judge(env); !ok {
		return ch
	}
	tgt, err := s.Target.resolve(ctx, env)
	if err != nil {
		return unknownOr(err, "check the target's connection")
	}
	own, err := createdBy(env)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	m := p.state.manifest
	if m == nil || m.Method != "stream" {
		if err := own.noneForeign(ctx, tgt, p.dbs); err != nil {
			return unknownOr(err, "check the target's connection")
		}
		return steps.ReadyTo(steps.Create, "copy every database of %s to %s", p.live, s.Target.describe(env))
	}
	diffs, err := targetDiffs(ctx, tgt, m, own)
	if err != nil {
		return unknownOr(err, "check the target's connection")
	}
	for _, db := range m.Databases {
		if len(diffs[db.Name]) > 0 {
			return steps.ReadyTo(steps.Create, "%s differs on the target → copy again", db.Name)
		}
	}
	return steps.AlreadyDone("all %d databases are on the target with the rows this run copied from %s at WAL %s%s", len(m.Databases), p.live.Label, m.Provenance.WAL, afterQuiesce(m.Provenance.QuiesceWAL))
}

// Apply copies every database.
func (s *Stream) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	dir, err := env.Text(s.Dir)
	if err != nil {
		return nil, err
	}
	jobs, err := jobsOf(env, s.Jobs)
	if err != nil {
		return nil, err
	}
	tgt, err := s.Target.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	p, err := lookAt(ctx, env, s.Source, s.Databases, s.Quiesce, dir)
	if err != nil {
		return nil, err
	}
	prov, err := p.begin(ctx, env, "stream")
	if err != nil {
		return nil, err
	}
	env.Info(fmt.Sprintf("copying %s at WAL %s%s for run %s", p.live, prov.WAL, afterQuiesce(prov.QuiesceWAL), orDefault(env.RunID, "(none)")))
	src, dbs := p.src, p.dbs
	own, err := createdBy(env)
	if err != nil {
		return nil, err
	}
	m := &Manifest{Method: "stream", Provenance: &prov}
	for i, db := range dbs {
		env.Out.Progress(float64(i), float64(len(dbs)), "databases")
		if err := own.dropOurs(ctx, tgt, db); err != nil { // an interrupted copy's leftovers; never another's database
			return nil, err
		}
		if err := own.mark(db, 0); err != nil {
			return nil, err
		}
		rec, err := s.copyOne(ctx, env, src, tgt, dir, db, jobs)
		if err != nil {
			if derr := dropDatabase(context.WithoutCancel(ctx), tgt, db); derr != nil {
				return nil, fmt.Errorf("copy of %s failed: %w; dropping the half-copied database failed too: %v", db, err, derr)
			}
			return nil, fmt.Errorf("copy of %s failed, the half-copied database was dropped: %w", db, err)
		}
		if err := own.recordCreated(ctx, tgt, db); err != nil {
			return nil, err
		}
		m.Databases = append(m.Databases, rec)
	}
	env.Out.Progress(float64(len(dbs)), float64(len(dbs)), "databases")
	if err := writeManifest(dir, m); err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("manifest", filepath.Join(dir, manifestName)).Set("databases", strings.Join(dbs, ",")), nil
}

func since(t time.Time) time.Duration { return time.Since(t).Round(time.Millisecond) }

func (s *Stream) copyOne(ctx context.Context, env *steps.Env, src, tgt dsn, dir, db string, jobs int) (Database, error) {
	rec := Database{Name: db, Rows: map[string]int64{}}
	c, snap, err := exportSnapshot(ctx, src, db)
	if err != nil {
		return rec, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	rec.Snapshot = snap
	t0 := time.Now()
	schema := filepath.Join(dir, db+".schema")
	defer os.Remove(schema)
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_dump", "-Fc", "--section=pre-data", "--section=post-data", "--snapshot=" + rec.Snapshot, "-f", schema, "-d", src.dbArg(db)}, Env: src.environ(env.Environ, "")}); err != nil {
		return rec, fmt.Errorf("pg_dump (schema) %s: %w", db, err)
	}
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_restore", "--create", "--exit-on-error", "--section=pre-data", "-d", tgt.dbArg("postgres"), schema}, Env: tgt.environ(env.Environ, "")}); err != nil {
		return rec, fmt.Errorf("pg_restore (pre-data) %s: %w", db, err)
	}
	tables, err := userTables(ctx, c)
	if err != nil {
		return rec, err
	}
	ixs, err := earlyIndexes(ctx, c)
	if err != nil {
		return rec, err
	}
	rec.Indexes = ixs
	var total int64
	for _, t := range tables {
		total += t.Pages
		rec.Rows[t.key()] = 0
	}
	// split tables larger than a fair share into ctid ranges, so the workers stay busy — but only
	// when the target is PostgreSQL 16 or later: before 16 a relation grows one page at a time under
	// its extension lock, and two COPYs into the same table cost the target half as much CPU again
	// as one (measured with bench/migrate.sh on 15: 4.5 s against 3.0 s for pgbench_accounts).
	split, err := targetVersion(ctx, tgt)
	if err != nil {
		return rec, err
	}
	share := max(total/int64(jobs*4), 1024)
	var work []piece
	for _, t := range tables {
		if split < 160000 || t.Pages <= share {
			work = append(work, piece{t: t, pages: t.Pages, format: "binary"})
			continue
		}
		for lo := int64(0); lo < t.Pages; lo += share {
			w := fmt.Sprintf("ctid >= '(%d,0)'::tid", lo)
			if lo+share < t.Pages {
				w += fmt.Sprintf(" AND ctid < '(%d,0)'::tid", lo+share)
			}
			work = append(work, piece{t: t, where: w, pages: share, format: "binary"})
		}
	}
	env.Info(fmt.Sprintf("schema of %s created in %s; copying %d tables in %d pieces with %d workers under snapshot %s, building %d indexes and keys as each table lands", db, since(t0), len(tables), len(work), jobs, rec.Snapshot, len(ixs)))
	t0 = time.Now()
	l := &loader{env: env, tgt: tgt, db: db, jobs: jobs, indexes: byTable(ixs),
		feeder: func(ctx context.Context) (feeder, error) { return openSource(ctx, src, db, rec.Snapshot) }}
	list := goList(ctx, env, schema, "post-data") // read while the rows move
	rows, built, err := l.run(ctx, work)
	if err != nil {
		return rec, err
	}
	maps.Copy(rec.Rows, rows)
	env.Info(fmt.Sprintf("rows and %d indexes of %s in %s; sequences, the other indexes and constraints next", len(built), db, since(t0)))
	t0 = time.Now()
	if err := copySequences(ctx, c, tgt, db); err != nil {
		return rec, err
	}
	if err := copyLargeObjects(ctx, env, c, src, tgt, dir, db, rec); err != nil {
		return rec, err
	}
	rest, err := list()
	if err != nil {
		return rec, err
	}
	if err := rest.restoreRest(ctx, env, tgt, db, schema+".list", jobs, built); err != nil {
		return rec, err
	}
	env.Info(fmt.Sprintf("sequences, indexes and constraints of %s finished in %s", db, since(t0)))
	return rec, nil
}

// copyLargeObjects copies the contents of the database's large objects (the schema's pre-data
// created them, empty, with their owners and grants) with pg_dump's data section for large objects
// alone, under the snapshot, and records how many there are.
func copyLargeObjects(ctx context.Context, env *steps.Env, c *pgx.Conn, src, tgt dsn, dir, db string, rec Database) error {
	n, _, err := countLargeObjects(ctx, c, false)
	if err != nil || n == 0 {
		return err
	}
	env.Info(fmt.Sprintf("copying the %d large objects of %s", n, db))
	blobs := filepath.Join(dir, db+".blobs")
	defer os.Remove(blobs)
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_dump", "-Fc", "--section=data", "--exclude-table=*.*", "--snapshot=" + rec.Snapshot, "-f", blobs, "-d", src.dbArg(db)}, Env: src.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_dump (large objects) %s: %w", db, err)
	}
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_restore", "--exit-on-error", "--section=data", "-d", tgt.dbArg(db), blobs}, Env: tgt.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_restore (large objects) %s: %w", db, err)
	}
	rec.Rows[largeObjects] = n
	return nil
}

// copySequences sets every sequence on the target to its value in the snapshot c reads under.
func copySequences(ctx context.Context, c *pgx.Conn, tgt dsn, db string) error {
	rows, err := c.Query(ctx, `SELECT format('%I.%I', n.nspname, s.relname) FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
		WHERE s.relkind = 'S' AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = s.oid AND d.deptype = 'e')`)
	if err != nil {
		return err
	}
	seqs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return err
	}
	if len(seqs) == 0 {
		return nil
	}
	tc, err := tgt.connect(ctx, db)
	if err != nil {
		return err
	}
	defer tc.Close(context.WithoutCancel(ctx))
	for _, q := range seqs {
		var last int64
		var called bool
		if err := c.QueryRow(ctx, "SELECT last_value, is_called FROM "+q).Scan(&last, &called); err != nil {
			return fmt.Errorf("read sequence %s: %w", q, err)
		}
		if _, err := tc.Exec(ctx, "SELECT setval($1::regclass, $2, $3)", q, last, called); err != nil {
			return fmt.Errorf("set sequence %s: %w", q, err)
		}
	}
	return nil
}

// Observe reads the outputs of a copy found done.
func (s *Stream) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	return (&Restore{Dir: s.Dir, method: "stream"}).Observe(ctx, env)
}

// Verify counts every table against the manifest.
func (s *Stream) Verify(ctx context.Context, env *steps.Env) error {
	return (&Restore{Target: s.Target, Dir: s.Dir, method: "stream"}).Verify(ctx, env)
}

// Rollback drops the copied databases from the target.
func (s *Stream) Rollback(ctx context.Context, env *steps.Env) error {
	return (&Restore{Target: s.Target, Dir: s.Dir, method: "stream"}).Rollback(ctx, env)
}

func registerStream(r *steps.Registry) {
	r.Register("pg-stream-copy", "copy every database source → target with parallel binary COPY under one snapshot, indexes in parallel after", func() steps.Step { return &Stream{} })
}

func targetVersion(ctx context.Context, tgt dsn) (int, error) {
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return 0, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var v string
	if err := c.QueryRow(ctx, "SHOW server_version_num").Scan(&v); err != nil {
		return 0, fmt.Errorf("version of %s: %w", tgt.Label, err)
	}
	return strconv.Atoi(v)
}
