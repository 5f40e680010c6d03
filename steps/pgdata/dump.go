package pgdata

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	// Quiesce is the quiesce's state output: a dump read before its WAL position is not done.
	Quiesce ref.Template `yaml:"quiesce"`
}

// OutputNames declares the outputs.
func (d *Dump) OutputNames() []string { return []string{"manifest", "databases"} }

// producer is what a step that writes into the dump directory (a dump, a streamed copy) knows
// before it writes: the source as it is now, the databases it would take, the quiesce, and what the
// directory already holds.
type producer struct {
	src   dsn
	live  Identity
	dbs   []string
	q     QuiesceState
	known bool // the quiesce's state is known (false in a plan before it has run)
	dir   string
	state dirState
}

// lookAt reads the source and dir for a step writing into dir.
func lookAt(ctx context.Context, env *steps.Env, source Server, dbsT, quiesceT ref.Template, dir string) (producer, error) {
	p := producer{dir: dir}
	var err error
	if p.q, p.known, err = quiesceOf(env, quiesceT); err != nil {
		return p, err
	}
	if p.src, err = source.resolve(ctx, env); err != nil {
		return p, err
	}
	c, err := p.src.connect(ctx, "")
	if err != nil {
		return p, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if p.live, err = p.src.identify(ctx, c); err != nil {
		return p, err
	}
	if p.dbs, err = databases(ctx, c); err != nil {
		return p, err
	}
	if p.dbs, err = only(env, dbsT, p.dbs); err != nil {
		return p, err
	}
	p.state, err = readDir(dir, p.dbs)
	return p, err
}

// judge compares what the directory holds with the source now, this run and the quiesce. ok is
// true when it is this run's, of this source, after the quiesce (or when it holds nothing).
func (p producer) judge(env *steps.Env) (steps.Check, bool) {
	if p.known && p.q.Source != nil {
		if diff := otherSource(*p.q.Source, p.live); len(diff) > 0 {
			return steps.BlockedBy(fmt.Sprintf("the quiesce this step was given is of another server than its source %s: %s", p.live, strings.Join(diff, "; ")),
				"give the step the state of the quiesce of its own source (quiesce: ${steps.<the quiesce>.state})"), false
		}
	}
	if p.state.empty() {
		return steps.Check{}, true
	}
	v, reason := judgeProvenance(p.state.what(p.dir), p.state.record(), p.live, env.RunID, p.q.WAL)
	if v == provMatches && !p.known {
		return steps.CannotTell("%s; whether it was read after the quiesce is known once the quiesce has run", reason), false
	}
	return provenanceCheck(v, reason, p.dir, steps.Replace)
}

// begin refuses another's directory and claims it for this run: the owner record is written (with
// the WAL position read now, before any snapshot is exported) and this run's own older manifest is
// removed, so an interrupted write is never taken for a complete one.
func (p producer) begin(ctx context.Context, env *steps.Env, method string) (Provenance, error) {
	if ch, ok := p.judge(env); !ok && ch.State == steps.Blocked {
		return Provenance{}, ch.Err()
	}
	if !p.known {
		return Provenance{}, fmt.Errorf("the quiesce's state is not known yet: the quiesce must run first")
	}
	pr := Provenance{RunID: env.RunID, Source: p.live, QuiesceWAL: p.q.WAL, Taken: now(env)}
	c, err := p.src.connect(ctx, "")
	if err != nil {
		return pr, err
	}
	pr.WAL, err = walPosition(ctx, c)
	c.Close(context.WithoutCancel(ctx))
	if err != nil {
		return pr, err
	}
	if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return pr, fmt.Errorf("dump directory: %w", err)
	}
	if err := os.Remove(filepath.Join(p.dir, manifestName)); err != nil && !os.IsNotExist(err) {
		return pr, err
	}
	return pr, claim(p.dir, method, pr)
}

func now(env *steps.Env) time.Time {
	if env.Now != nil {
		return env.Now()
	}
	return time.Now()
}

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
	acts := []steps.Action{
		{Kind: steps.ActSQL, Target: d.Source.describe(env), Text: provenanceSQL},
		{Kind: steps.ActFile, Target: "local", Text: dir + "/" + ownerName + "   (written first: the source's identity, this run's id, the WAL position; a dump-dir holding another source's or another run's dump is refused, never used or overwritten" + quiesceWords(d.Quiesce) + ")"},
		{Kind: steps.ActSQL, Target: d.Source.describe(env), Text: "-- per database, held open for the dump:\nBEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SELECT pg_export_snapshot();"},
	}
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
		{Kind: steps.ActFile, Target: "local", Text: dir + "/" + manifestName + "   (written last, with the owner record's provenance: rows per table" + map[bool]string{true: " and checksums", false: ""}[describesOn(env, d.Checksums)] + ")"},
	}...)
}

// Check says whether a complete dump of the source as it is now, taken by this run after the
// quiesce, is in Dir. Another source's or run's dump there is Blocked (never done, never
// overwritten); this run's own dump taken before the quiesce is taken again.
func (d *Dump) Check(ctx context.Context, env *steps.Env) steps.Check {
	dir, err := env.Text(d.Dir)
	if err != nil {
		return unknownOr(err, "")
	}
	p, err := lookAt(ctx, env, d.Source, d.Databases, d.Quiesce, dir)
	if err != nil {
		return unknownOr(err, "check the source's connection and the dump directory")
	}
	if ch, ok := p.judge(env); !ok {
		return ch
	}
	m := p.state.manifest
	if m == nil || m.Method != "dump" {
		if !p.state.empty() {
			return steps.ReadyTo(steps.Replace, "%s is this run's, unfinished → dump again", p.state.what(dir))
		}
		return steps.ReadyTo(steps.Create, "dump every database of %s into %s", p.live, dir)
	}
	var names []string
	for _, db := range m.Databases {
		names = append(names, db.Name)
		if _, err := os.Stat(filepath.Join(dir, db.Dir, "toc.dat")); err != nil {
			return steps.ReadyTo(steps.Create, "the manifest names %s but its dump is missing → dump again", db.Name)
		}
	}
	if !slices.Equal(names, p.dbs) {
		return steps.ReadyTo(steps.Replace, "the dump in %s holds %s, the source's databases are %s → dump again", dir, strings.Join(names, ", "), strings.Join(p.dbs, ", "))
	}
	// every data file there, every table's rows as recorded: only then is the dump done
	if err := d.Verify(ctx, env); err != nil {
		return steps.ReadyTo(steps.Create, "the dump in %s is incomplete (%v) → dump again", dir, err)
	}
	return steps.AlreadyDone("a complete dump of %d databases is in %s, taken by this run from %s at WAL %s%s", len(m.Databases), dir, p.live.Label, m.Provenance.WAL, afterQuiesce(m.Provenance.QuiesceWAL))
}

func afterQuiesce(wal string) string {
	if wal == "" {
		return ""
	}
	return " (the quiesce's: " + wal + ")"
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
	checksums, err := env.Flag(d.Checksums)
	if err != nil {
		return nil, err
	}
	p, err := lookAt(ctx, env, d.Source, d.Databases, d.Quiesce, dir)
	if err != nil {
		return nil, err
	}
	prov, err := p.begin(ctx, env, "dump")
	if err != nil {
		return nil, err
	}
	env.Info(fmt.Sprintf("dumping %s at WAL %s%s for run %s", p.live, prov.WAL, afterQuiesce(prov.QuiesceWAL), orDefault(env.RunID, "(none)")))
	src, dbs := p.src, p.dbs
	m := &Manifest{Method: "dump", Provenance: &prov}
	for i, db := range dbs {
		env.Out.Progress(float64(i), float64(len(dbs)), "databases")
		rec, err := d.dumpOne(ctx, env, src, dir, db, jobs, z, checksums)
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
	if errors.Is(err, os.ErrNotExist) {
		return removeUnfinished(dir, env.RunID)
	}
	if err != nil {
		return err
	}
	if m.Provenance == nil || m.Provenance.RunID != env.RunID {
		return fmt.Errorf("the dump in %s is not this run's (%s): not removed", dir, orDefault(provenanceRun(m.Provenance), "no record of its run"))
	}
	for _, db := range m.Databases {
		if err := os.RemoveAll(filepath.Join(dir, db.Dir)); err != nil {
			return err
		}
	}
	if err := os.Remove(filepath.Join(dir, ownerName)); err != nil && !os.IsNotExist(err) {
		return err
	}
	return os.Remove(filepath.Join(dir, manifestName))
}

// removeUnfinished removes this run's unfinished dump (its owner record says whose it is): the
// dump directories of the databases the source had when it began, and the record.
func removeUnfinished(dir, runID string) error {
	st, err := readDir(dir, nil)
	if err != nil || st.owner == nil {
		return err
	}
	if st.owner.Provenance.RunID != runID {
		return fmt.Errorf("the unfinished dump in %s is not this run's (run %s): not removed", dir, orDefault(st.owner.Provenance.RunID, "(none)"))
	}
	for db := range st.owner.Provenance.Source.Databases {
		if err := os.RemoveAll(filepath.Join(dir, db+".dir")); err != nil {
			return err
		}
	}
	return os.Remove(filepath.Join(dir, ownerName))
}

func provenanceRun(p *Provenance) string {
	if p == nil {
		return ""
	}
	return "run " + orDefault(p.RunID, "(none)")
}
