package pgdata

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"time"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/steps"
)

// restoreOne restores one database of a directory-format dump into a fresh database: its schema's
// pre-data with `pg_restore --create` (the database with its owner, encoding, locale, grants and
// settings; the tables, no indexes), then every table's rows with COPY … FREEZE from the dump's data
// files by Jobs workers, each table's indexes and keys built as soon as its rows are in, then the
// rest of the data (sequences, large objects) and post-data by `pg_restore -j N`. The rows each COPY
// loaded must equal the dump's.
func (r *Restore) restoreOne(ctx context.Context, env *steps.Env, tgt dsn, dir string, db Database, jobs int) error {
	t0 := time.Now()
	archive := filepath.Join(dir, db.Dir)
	list := goList(ctx, env, archive, "data", "post-data") // read while the schema is created
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_restore", "--create", "--exit-on-error", "--section=pre-data", "-d", tgt.dbArg("postgres"), archive}, Env: tgt.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_restore (pre-data) %s: %w", db.Name, err)
	}
	tc, err := tgt.connect(ctx, db.Name)
	if err != nil {
		return err
	}
	tables, err := userTables(ctx, tc)
	tc.Close(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	byKey := map[string]tableRef{}
	for _, t := range tables {
		byKey[t.key()] = t
	}
	rest, err := list()
	if err != nil {
		return err
	}
	done := map[string]bool{}
	var pieces []piece
	for _, line := range rest.lines {
		e, ok := parseTOCLine(line)
		if !ok || e.kind != "TABLE DATA" {
			continue // other data (sequences, large objects): pg_restore's
		}
		t, ok := byKey[db.Tables[e.oid]]
		if !ok {
			continue
		}
		file := filepath.Join(archive, e.id+".dat")
		st, err := os.Stat(file)
		if os.IsNotExist(err) {
			file += ".gz"
			st, err = os.Stat(file)
		}
		if err != nil {
			return fmt.Errorf("data file of %s in %s: %w", t.key(), archive, err)
		}
		pages, ok := db.Pages[t.key()]
		if !ok { // a dump from before the manifest recorded sizes
			pages = st.Size() / 8192
		}
		pieces = append(pieces, piece{t: t, file: file, pages: pages, format: "text"})
		done[e.key()] = true
	}
	env.Info(fmt.Sprintf("schema of %s created in %s; loading %d tables with %d workers, building %d indexes and keys as each table lands", db.Name, since(t0), len(pieces), jobs, len(db.Indexes)))
	t0 = time.Now()
	l := &loader{env: env, tgt: tgt, db: db.Name, jobs: jobs, indexes: byTable(db.Indexes),
		feeder: func(context.Context) (feeder, error) { return fileFeeder{}, nil }}
	rows, built, err := l.run(ctx, pieces)
	if err != nil {
		return err
	}
	maps.Copy(done, built)
	for k, n := range rows {
		if want, ok := db.Rows[k]; ok && want != n {
			return fmt.Errorf("%s.%s: %d rows loaded, the dump has %d", db.Name, k, n, want)
		}
	}
	env.Info(fmt.Sprintf("rows and %d indexes of %s in %s; the rest of the data and post-data next", len(built), db.Name, since(t0)))
	t0 = time.Now()
	if err := rest.restoreRest(ctx, env, tgt, db.Name, filepath.Join(dir, db.Name+".restore.list"), jobs, done); err != nil {
		return err
	}
	env.Info(fmt.Sprintf("the rest of %s finished in %s", db.Name, since(t0)))
	return nil
}
