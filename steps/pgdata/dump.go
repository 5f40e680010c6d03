package pgdata

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Dump is the `pg-dump` kind: every non-template database of the source with
// `pg_dump -Fd -j N --snapshot=S` into Dir/<db>.dir, where S is a snapshot cairn exports and holds
// open for the dump's whole length; the per-table row counts come from the dump's own data files
// (pg_dump read them under S) and, with Checksums, content checksums are computed under S too. The
// dump is validated with `pg_restore --list`. The manifest, written last, marks it complete.
// Compress is a gzip level 0–9, or "auto" (the default): gzip only when a sample of the largest
// tables compresses well enough to pay for the CPU (dumpCompression).
type Dump struct {
	Source    Server       `yaml:"source"`
	Dir       ref.Template `yaml:"dir"`
	Jobs      ref.Template `yaml:"jobs"`
	Compress  ref.Template `yaml:"compress"`
	Checksums ref.Template `yaml:"checksums"`
	// Databases limits the dump to these (comma-separated); default every non-template database.
	Databases ref.Template `yaml:"databases"`
}

// OutputNames declares the outputs.
func (d *Dump) OutputNames() []string { return []string{"manifest", "databases"} }

// Validate checks the parameters.
func (d *Dump) Validate() error {
	if d.Dir.IsZero() {
		return fmt.Errorf("give `dir:` (the dump directory)")
	}
	return nil
}

func jobsOf(env *steps.Env, t ref.Template) (int, error) {
	s, err := env.Text(t)
	if err != nil || s == "" {
		return 2, err
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("jobs %q: give a whole number ≥ 1", s)
	}
	return n, nil
}

// Describe lists the commands.
func (d *Dump) Describe(env *steps.Env) []steps.Action {
	dir := env.Describe(d.Dir)
	acts := []steps.Action{{Kind: steps.ActSQL, Target: d.Source.describe(env), Text: "-- per database, held open for the dump:\nBEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();"}}
	z := orDefault(env.Describe(d.Compress), compressAuto)
	if z == compressAuto {
		z = "<0 or " + autoCompressLevel + ">"
		acts = append(acts, steps.Action{Kind: steps.ActSQL, Target: d.Source.describe(env), Text: fmt.Sprintf("-- compress: auto — under the same snapshot, a %d-page sample of each of the largest tables (up to 8, nine tenths of the data), gzip'd in memory: -Z %s when it shrinks at least %g:1, else -Z 0\nCOPY (SELECT … FROM ONLY <table> TABLESAMPLE SYSTEM (…) REPEATABLE (0)) TO STDOUT", samplePages, autoCompressLevel, autoCompressRatio)})
	}
	return append(acts, []steps.Action{
		{Kind: steps.ActExec, Target: "local", Text: fmt.Sprintf("pg_dump -Fd -j %s -Z %s --no-sync --snapshot=<exported> -f %s/<db>.dir <db>   (PGPASSWORD in the environment; -j lowered to the number of tables at least a tenth the size of the largest)", orDefault(env.Describe(d.Jobs), "2"), z, dir)},
		{Kind: steps.ActFile, Target: "local", Text: "fsync every file and directory of " + dir + "/<db>.dir   (each file's rows counted while pg_dump wrote it; the dump is on disk before the step is done)"},
		{Kind: steps.ActSQL, Target: d.Source.describe(env), Text: "-- under the same snapshot: each plain table's indexes and keys, for the restore to build as the table lands\nSELECT pg_get_indexdef(…), pg_get_constraintdef(…) FROM pg_index …"},
		{Kind: steps.ActExec, Target: "local", Text: "pg_restore --list " + dir + "/<db>.dir   (validates the dump; row counts from its data files)"},
		{Kind: steps.ActFile, Target: "local", Text: dir + "/" + manifestName + "   (written last: rows per table" + map[bool]string{true: " and checksums", false: ""}[env.Describe(d.Checksums) == "true"] + ")"},
	}...)
}

// Check says whether a complete dump is in Dir.
func (d *Dump) Check(ctx context.Context, env *steps.Env) steps.Check {
	dir, err := env.Text(d.Dir)
	if err != nil {
		return unknownOr(err, "")
	}
	if m, err := readManifest(dir); err == nil && m.Method == "dump" {
		for _, db := range m.Databases {
			if _, err := os.Stat(filepath.Join(dir, db.Dir, "toc.dat")); err != nil {
				return steps.ReadyTo(steps.Create, "the manifest names %s but its dump is missing → dump again", db.Name)
			}
		}
		// every data file there, every table's rows as recorded: only then is the dump done
		if err := d.Verify(ctx, env); err != nil {
			return steps.ReadyTo(steps.Create, "the dump in %s is incomplete (%v) → dump again", dir, err)
		}
		return steps.AlreadyDone("a complete dump of %d databases is in %s", len(m.Databases), dir)
	}
	return steps.ReadyTo(steps.Create, "dump every database of %s into %s", d.Source.describe(env), dir)
}

// Apply dumps every database.
func (d *Dump) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	dir, err := env.Text(d.Dir)
	if err != nil {
		return nil, err
	}
	jobs, err := jobsOf(env, d.Jobs)
	if err != nil {
		return nil, err
	}
	z, err := env.Text(d.Compress)
	if err != nil {
		return nil, err
	}
	if err := checkCompress(z); err != nil {
		return nil, err
	}
	cs, err := env.Text(d.Checksums)
	if err != nil {
		return nil, err
	}
	src, err := d.Source.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("dump directory: %w", err)
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	dbs, err := databases(ctx, c)
	c.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	if dbs, err = only(env, d.Databases, dbs); err != nil {
		return nil, err
	}
	m := &Manifest{Method: "dump"}
	for i, db := range dbs {
		env.Out.Progress(float64(i), float64(len(dbs)), "databases")
		rec, err := d.dumpOne(ctx, env, src, dir, db, jobs, z, cs == "true")
		if err != nil {
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

func (d *Dump) dumpOne(ctx context.Context, env *steps.Env, src dsn, dir, db string, jobs int, z string, checksums bool) (Database, error) {
	rec := Database{Name: db, Dir: db + ".dir"}
	out := filepath.Join(dir, rec.Dir)
	if err := os.RemoveAll(out); err != nil { // a half-written dump of an interrupted run
		return rec, err
	}
	c, snap, err := exportSnapshot(ctx, src, db)
	if err != nil {
		return rec, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	rec.Snapshot = snap
	tables, err := userTables(ctx, c)
	if err != nil {
		return rec, err
	}
	rec.Tables = tableNames(tables)
	rec.Pages = tablePages(tables)
	level, ratio, err := dumpCompression(ctx, c, z, tables)
	if err != nil {
		return rec, err
	}
	if z == "" || z == compressAuto {
		how := "raw (-Z 0): gzip would cost more CPU than it saves in writing"
		if level != "0" {
			how = "gzip'd (-Z " + level + "): a fraction of the bytes to write and sync"
		}
		env.Info(fmt.Sprintf("a sample of %s's largest tables compresses %.1f:1, so the dump is %s", db, ratio, how))
	}
	rec.Compress, _ = strconv.Atoi(level)
	// a pg_dump worker per table big enough to matter: a worker for a table a tenth the size of
	// the largest only costs a connection while the largest is still being read
	if n := bigTables(tables); n < jobs {
		jobs = n
	}
	env.Info(fmt.Sprintf("dumping %s under snapshot %s with %d jobs", db, rec.Snapshot, jobs))
	// each file's rows are counted while pg_dump writes it; pg_dump's own sync (every file at the
	// end) is replaced by cairn's, run while the counts are checked against the dump's list: the
	// dump is durable before the step reports it done
	t0 := time.Now()
	argv := []string{"pg_dump", "-Fd", "-j", strconv.Itoa(jobs), "-Z", level, "--no-sync", "--snapshot=" + rec.Snapshot, "-f", out, "-d", src.dbArg(db)}
	follow := followDump(ctx, out) // each file's rows counted as pg_dump writes it
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: argv, Env: src.environ(env.Environ, "")}); err != nil {
		follow.abandon()
		return rec, fmt.Errorf("pg_dump %s: %w", db, err)
	}
	counted, err := follow.finish()
	if err != nil {
		return rec, err
	}
	env.Info(fmt.Sprintf("pg_dump of %s finished in %s, its rows counted as it wrote them; checking the counts and syncing it to disk", db, since(t0)))
	t0 = time.Now()
	synced := make(chan error, 1)
	go func() { synced <- syncTree(out) }()
	// the indexes and keys the restore builds as each table lands, read under the same snapshot
	if rec.Indexes, err = earlyIndexes(ctx, c); err != nil {
		return rec, err
	}
	if checksums {
		env.Info("checksums of " + db + " under the same snapshot")
		if _, rec.Checksums, err = countTables(ctx, c, true); err != nil {
			return rec, err
		}
	}
	if rec.Rows, err = countDumpRows(ctx, env, out, rec.Tables, counted); err != nil {
		return rec, err
	}
	// every large object of the snapshot must be in the dump
	if n, _, err := countLargeObjects(ctx, c, false); err != nil {
		return rec, err
	} else if rec.Rows[largeObjects] != n {
		return rec, fmt.Errorf("the dump of %s holds %d large objects, the source has %d", db, rec.Rows[largeObjects], n)
	}
	if err := <-synced; err != nil {
		return rec, fmt.Errorf("sync the dump of %s to disk: %w", db, err)
	}
	var total int64
	for _, n := range rec.Rows {
		total += n
	}
	env.Info(fmt.Sprintf("%s: %d tables, %d rows dumped; counted and synced in %s", db, len(rec.Rows), total, since(t0)))
	return rec, nil
}

// bigTables counts the tables at least a tenth the size of the largest (at least 1).
func bigTables(ts []tableRef) int {
	var largest int64
	for _, t := range ts {
		largest = max(largest, t.Pages)
	}
	n := 0
	for _, t := range ts {
		if t.Pages*10 >= largest {
			n++
		}
	}
	return max(n, 1)
}

// Observe reads the outputs of a complete dump.
func (d *Dump) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	dir, err := env.Text(d.Dir)
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
	return steps.Outputs{}.Set("manifest", filepath.Join(dir, manifestName)).Set("databases", strings.Join(names, ",")), nil
}

// Verify proves the dump reads back and still has the recorded rows.
func (d *Dump) Verify(ctx context.Context, env *steps.Env) error {
	dir, err := env.Text(d.Dir)
	if err != nil {
		return err
	}
	m, err := readManifest(dir)
	if err != nil {
		return &steps.VerifyError{What: "dump manifest in " + dir, Expected: "present", Found: err.Error()}
	}
	for _, db := range m.Databases {
		rows, err := countDumpRows(ctx, env, filepath.Join(dir, db.Dir), db.Tables, nil)
		if err != nil {
			return err
		}
		if diff := compare(Database{Name: db.Name, Rows: db.Rows}, rows, nil); len(diff) > 0 {
			return &steps.VerifyError{What: "dump of " + db.Name, Expected: "the recorded rows", Found: strings.Join(diff, "; ")}
		}
	}
	return nil
}

// Rollback removes the dump cairn wrote (only its own files).
func (d *Dump) Rollback(ctx context.Context, env *steps.Env) error {
	dir, err := env.Text(d.Dir)
	if err != nil {
		return err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil
	}
	for _, db := range m.Databases {
		if err := os.RemoveAll(filepath.Join(dir, db.Dir)); err != nil {
			return err
		}
	}
	return os.Remove(filepath.Join(dir, manifestName))
}
