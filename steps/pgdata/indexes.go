package pgdata

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/steps"
)

// Index is an index or key constraint cairn builds itself as soon as its table's rows are in,
// instead of leaving it to pg_restore's post-data section after the last row of every table.
type Index struct {
	Table string `json:"table"` // "schema.table"
	Entry string `json:"entry"` // the archive entry it stands for: "INDEX s name" or "CONSTRAINT s table name"
	OID   uint32 `json:"oid"`   // the index's (INDEX) or the constraint's (CONSTRAINT) OID, as the archive lists it
	SQL   string `json:"sql"`
}

// key is how the archive's list names the entry: its type and OID.
func (ix Index) key() string {
	kind, _, _ := strings.Cut(ix.Entry, " ")
	return kind + " " + strconv.FormatUint(uint64(ix.OID), 10)
}

// earlyIndexesSQL lists the indexes and primary-key / unique / exclusion constraints of plain
// tables that are exactly one statement in pg_dump's archive. Left to pg_restore: indexes of
// partitions (attached to a parent's index), in a tablespace, clustered, used as replica identity,
// with column statistics targets — pg_dump adds statements for those.
const earlyIndexesSQL = `
SELECT n.nspname || '.' || t.relname,
       CASE WHEN con.oid IS NULL THEN format('INDEX %s %s', n.nspname, i.relname)
            ELSE format('CONSTRAINT %s %s %s', n.nspname, t.relname, con.conname) END,
       CASE WHEN con.oid IS NULL THEN x.indexrelid ELSE con.oid END,
       CASE WHEN con.oid IS NULL THEN pg_get_indexdef(x.indexrelid)
            ELSE format('ALTER TABLE ONLY %I.%I ADD CONSTRAINT %I %s', n.nspname, t.relname, con.conname, pg_get_constraintdef(con.oid)) END
FROM pg_index x
JOIN pg_class i ON i.oid = x.indexrelid
JOIN pg_class t ON t.oid = x.indrelid
JOIN pg_namespace n ON n.oid = t.relnamespace
LEFT JOIN pg_constraint con ON con.conindid = x.indexrelid AND con.conrelid = t.oid AND con.contype IN ('p', 'u', 'x')
WHERE t.relkind = 'r' AND NOT t.relispartition AND NOT i.relispartition
  AND i.reltablespace = 0 AND x.indisvalid AND NOT x.indisclustered AND NOT x.indisreplident
  AND (con.oid IS NOT NULL OR NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid))
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
  AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = i.oid AND a.attstattarget >= 0)
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = t.oid AND d.deptype = 'e')
ORDER BY 1, 2`

// earlyIndexes reads the statements from the source, in c's transaction (the exported snapshot),
// with every name schema-qualified.
func earlyIndexes(ctx context.Context, c *pgx.Conn) ([]Index, error) {
	if _, err := c.Exec(ctx, "SELECT set_config('search_path', '', true)"); err != nil {
		return nil, err
	}
	rows, err := c.Query(ctx, earlyIndexesSQL)
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Index, error) {
		var ix Index
		err := r.Scan(&ix.Table, &ix.Entry, &ix.OID, &ix.SQL)
		return ix, err
	})
	if err != nil {
		return nil, fmt.Errorf("list indexes: %w", err)
	}
	return out, nil
}

func byTable(ixs []Index) map[string][]Index {
	m := map[string][]Index{}
	for _, ix := range ixs {
		m[ix.Table] = append(m[ix.Table], ix)
	}
	return m
}

// tocLineRE splits a line of `pg_restore --list`: "123; 2606 16398 CONSTRAINT public t t_pkey owner".
var tocLineRE = regexp.MustCompile(`^(\d+); \d+ (\d+) (.*)$`)

// tocEntry is one line of an archive's list: its dump id, the object's OID and its type.
type tocEntry struct{ id, oid, kind string }

// the entry types cairn takes over from pg_restore
var tocKinds = []string{"TABLE DATA", "INDEX", "CONSTRAINT"}

func parseTOCLine(line string) (tocEntry, bool) {
	m := tocLineRE.FindStringSubmatch(line)
	if m == nil {
		return tocEntry{}, false
	}
	e := tocEntry{id: m[1], oid: m[2]}
	for _, k := range tocKinds {
		if strings.HasPrefix(m[3], k+" ") {
			e.kind = k
		}
	}
	return e, true
}

// key names the entry as Index.key does: "INDEX 16400", "TABLE DATA 16391".
func (e tocEntry) key() string { return e.kind + " " + e.oid }

// archiveList is an archive's list of entries for some sections, read with `pg_restore --list`
// (which honours --section), so the rest of a restore can run from it.
type archiveList struct {
	archive  string
	sections []string
	lines    []string
}

func sectionArgs(sections []string) []string {
	var out []string
	for _, s := range sections {
		out = append(out, "--section="+s)
	}
	return out
}

// listArchive reads the list of archive's entries in sections.
func listArchive(ctx context.Context, env *steps.Env, archive string, sections ...string) (*archiveList, error) {
	res, err := proc.Run(ctx, env, proc.Cmd{Argv: append(append([]string{"pg_restore", "--list"}, sectionArgs(sections)...), archive), Quiet: true})
	if err != nil {
		return nil, fmt.Errorf("the archive %s does not read back (pg_restore --list): %w", archive, err)
	}
	return &archiveList{archive: archive, sections: sections, lines: strings.Split(res.Stdout, "\n")}, nil
}

// goList reads the list in the background, while other work goes on; wait for it with the
// returned function.
func goList(ctx context.Context, env *steps.Env, archive string, sections ...string) func() (*archiveList, error) {
	type result struct {
		l   *archiveList
		err error
	}
	ch := make(chan result, 1)
	go func() {
		l, err := listArchive(ctx, env, archive, sections...)
		ch <- result{l, err}
	}()
	return func() (*archiveList, error) { r := <-ch; return r.l, r.err }
}

// restoreRest runs `pg_restore -j N` for the list's sections into db, with every entry in done
// (tables loaded, indexes built by cairn) commented out of the list; when nothing is left it runs
// nothing.
func (a *archiveList) restoreRest(ctx context.Context, env *steps.Env, tgt dsn, db, listFile string, jobs int, done map[string]bool) error {
	var b strings.Builder
	left := 0
	for _, line := range a.lines {
		if e, ok := parseTOCLine(line); ok {
			if e.kind != "" && done[e.key()] {
				b.WriteString(";")
			} else {
				left++
			}
		}
		b.WriteString(line)
		b.WriteString("\n")
	}
	if left == 0 {
		return nil
	}
	if err := os.WriteFile(listFile, []byte(b.String()), 0o600); err != nil {
		return err
	}
	defer os.Remove(listFile)
	argv := append(append([]string{"pg_restore", "--exit-on-error", "-j", strconv.Itoa(jobs)}, sectionArgs(a.sections)...), "-L", listFile, "-d", tgt.dbArg(db), a.archive)
	if _, err := proc.Run(ctx, env, proc.Cmd{Argv: argv, Env: tgt.environ(env.Environ, "")}); err != nil {
		return fmt.Errorf("pg_restore (%s) %s: %w", strings.Join(a.sections, ", "), db, err)
	}
	return nil
}
