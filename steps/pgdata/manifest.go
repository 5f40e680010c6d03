package pgdata

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
	"github.com/cairn-runbooks/cairn/steps"
)

// Manifest is what a dump (or a streamed copy) recorded: per database, per table, the rows (and
// checksums) as of the snapshot the data was read under. It is written last, so its presence says
// the dump is complete.
type Manifest struct {
	Method string `json:"method"` // "dump" or "stream"
	// Provenance binds the manifest to the source and the run it was taken by (nil in a manifest
	// of a cairn that did not record it: never taken as this run's).
	Provenance *Provenance `json:"provenance,omitempty"`
	Databases  []Database  `json:"databases"`
}

// Database is one database in a manifest.
type Database struct {
	Name      string            `json:"name"`
	Dir       string            `json:"dir,omitempty"`
	Snapshot  string            `json:"snapshot"`
	Compress  int               `json:"compress,omitempty"`  // the dump's gzip level (0: raw)
	Rows      map[string]int64  `json:"rows"`                // "schema.table" → rows
	Checksums map[string]string `json:"checksums,omitempty"` // "schema.table" → md5
	// Indexes are the indexes and key constraints the restore builds as soon as each table's rows
	// are in (read from the source under the same snapshot); the rest is left to pg_restore.
	Indexes []Index `json:"indexes,omitempty"`
	// Tables names the source's tables by OID (the dump's list names a table's data by its OID;
	// its printed names are ambiguous when a name has a space).
	Tables map[string]string `json:"tables,omitempty"`
	// Pages is each table's size on the source in pages, so the restore loads the largest first
	// (a gzip'd data file's size says little about its table's).
	Pages map[string]int64 `json:"pages,omitempty"`
}

// tableNames maps each table's OID to its "schema.table".
func tableNames(ts []tableRef) map[string]string {
	m := map[string]string{}
	for _, t := range ts {
		m[strconv.FormatUint(uint64(t.OID), 10)] = t.key()
	}
	return m
}

// tablePages maps each table's "schema.table" to its size in pages.
func tablePages(ts []tableRef) map[string]int64 {
	m := map[string]int64{}
	for _, t := range ts {
		m[t.key()] = t.Pages
	}
	return m
}

const manifestName = "cairn-manifest.json"

func readManifest(dir string) (*Manifest, error) {
	b, err := os.ReadFile(filepath.Join(dir, manifestName))
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestName, err)
	}
	return &m, nil
}

func writeManifest(dir string, m *Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteAtomic(filepath.Join(dir, manifestName), b, 0o600)
}

// countDumpRows validates a directory-format dump with `pg_restore --list` and counts each table's
// rows from its data file: COPY text has one line per row (newlines inside values are escaped), so
// the counts are exactly the rows pg_dump read under its snapshot. tables names the tables by OID.
// The files are counted in parallel while the list is read, unless counted (data file id → rows)
// already holds their counts (made while pg_dump wrote them: followDump).
func countDumpRows(ctx context.Context, env *steps.Env, dir string, tables map[string]string, counted map[string]int64) (map[string]int64, error) {
	list := goList(ctx, env, dir, "data")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("the dump in %s: %w", dir, err)
	}
	var (
		mu     sync.Mutex
		counts = map[string]int64{}
		errs   []error
		wg     sync.WaitGroup
		sem    = make(chan struct{}, runtime.NumCPU())
	)
	for _, e := range entries {
		id, ok := dataFileID(e)
		if !ok {
			continue // a large object's content is counted from the blobs list below
		}
		if n, ok := counted[id]; ok {
			counts[id] = n
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			n, err := countFile(dir, id)
			mu.Lock()
			defer mu.Unlock()
			counts[id] = n
			if err != nil {
				errs = append(errs, err)
			}
		})
	}
	wg.Wait()
	l, err := list()
	if err != nil {
		return nil, err
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	rows := map[string]int64{}
	for _, line := range l.lines {
		e, ok := parseTOCLine(line)
		if !ok || e.kind != "TABLE DATA" || tables[e.oid] == "" {
			continue
		}
		n, ok := counts[e.id]
		if !ok {
			return nil, fmt.Errorf("data file %s of the dump (table %s) is missing from %s", e.id, tables[e.oid], dir)
		}
		rows[tables[e.oid]] = n
	}
	// large objects: one line per object in the blobs list ("blobs.toc", "blobs_<id>.toc" from 17)
	tocs, _ := filepath.Glob(filepath.Join(dir, "blobs*.toc"))
	for _, toc := range tocs {
		b, err := os.ReadFile(toc)
		if err != nil {
			return nil, fmt.Errorf("large objects of the dump: %w", err)
		}
		if n := int64(bytes.Count(b, []byte{'\n'})); n > 0 {
			rows[largeObjects] += n
		}
	}
	return rows, nil
}

func countFile(dir, id string) (int64, error) {
	f, err := os.Open(filepath.Join(dir, id+".dat"))
	if os.IsNotExist(err) {
		f, err = os.Open(filepath.Join(dir, id+".dat.gz"))
		if err != nil {
			return 0, fmt.Errorf("data file %s of the dump: %w", id, err)
		}
		defer f.Close()
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return 0, fmt.Errorf("data file %s of the dump: %w", id, err)
		}
		return countRows(gz)
	} else if err != nil {
		return 0, fmt.Errorf("data file %s of the dump: %w", id, err)
	}
	defer f.Close()
	return countRows(f)
}

// countRows counts the rows of one table's COPY text data: its lines, less pg_dump's end-of-data
// marker and blank lines after it.
func countRows(r io.Reader) (int64, error) {
	var n int64
	buf := make([]byte, 1<<20)
	var last []byte
	for {
		k, err := r.Read(buf)
		if k > 0 {
			n += int64(bytes.Count(buf[:k], []byte{'\n'}))
			last = append(last, buf[:k]...)
			if len(last) > 8 {
				last = append(last[:0], last[len(last)-8:]...)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	switch {
	case bytes.HasSuffix(last, []byte(endOfData)): // pg_dump's end-of-data marker and two blank lines
		n -= 3
	case bytes.HasSuffix(last, []byte("\\.\n")):
		n--
	}
	return n, nil
}

// tableRef is one user table.
type tableRef struct {
	Schema, Name string
	OID          uint32
	Pages        int64
	Cols         []string // non-generated columns, quoted
}

func (t tableRef) key() string    { return t.Schema + "." + t.Name }
func (t tableRef) quoted() string { return ident(t.Schema) + "." + ident(t.Name) }

// userTable is the condition on pg_class c (and its pg_namespace n) for a user table: an ordinary
// table, not a catalog's, a temporary one or an extension's member.
const userTable = `c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
		  AND n.nspname NOT LIKE 'pg_toast%' AND n.nspname NOT LIKE 'pg_temp%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')`

// userTables lists the ordinary tables of a database (no catalogs, no extension members).
func userTables(ctx context.Context, c *pgx.Conn) ([]tableRef, error) {
	rows, err := c.Query(ctx, `SELECT n.nspname, c.relname, c.oid, (pg_relation_size(c.oid) / current_setting('block_size')::int)::bigint,
			array(SELECT quote_ident(a.attname) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
				AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum)
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE `+userTable+`
		ORDER BY 4 DESC, 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var out []tableRef
	for rows.Next() {
		var t tableRef
		if err := rows.Scan(&t.Schema, &t.Name, &t.OID, &t.Pages, &t.Cols); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// largeObjects is the manifest's entry for a database's large objects: how many there are (and
// with checksums an md5 over each one's OID and content).
const largeObjects = "(large objects)"

// countLargeObjects counts the large objects c sees (in its snapshot when it has one).
func countLargeObjects(ctx context.Context, c *pgx.Conn, checksums bool) (int64, string, error) {
	q := "SELECT count(*), '' FROM pg_largeobject_metadata"
	if checksums {
		q = "SELECT count(*), coalesce(md5(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid)), '') FROM pg_largeobject_metadata"
	}
	var n int64
	var sum string
	if err := c.QueryRow(ctx, q).Scan(&n, &sum); err != nil {
		return 0, "", fmt.Errorf("count large objects: %w", err)
	}
	return n, sum, nil
}

// countTables counts rows (and checksums when asked) of every user table, on c as it stands (in
// its transaction's snapshot when it has one).
func countTables(ctx context.Context, c *pgx.Conn, checksums bool) (map[string]int64, map[string]string, error) {
	return countTablesIn(ctx, c, checksums, nil)
}

// countTablesIn is countTables of the tables only accepts (by "schema.table"; nil: every one); the
// large objects are always counted.
func countTablesIn(ctx context.Context, c *pgx.Conn, checksums bool, only func(table string) bool) (map[string]int64, map[string]string, error) {
	ts, err := userTables(ctx, c)
	if err != nil {
		return nil, nil, err
	}
	rows := map[string]int64{}
	var sums map[string]string
	if checksums {
		sums = map[string]string{}
	}
	for _, t := range ts {
		if only != nil && !only(t.key()) {
			continue
		}
		var n int64
		if err := c.QueryRow(ctx, "SELECT count(*) FROM ONLY "+t.quoted()).Scan(&n); err != nil {
			return nil, nil, fmt.Errorf("count %s: %w", t.key(), err)
		}
		rows[t.key()] = n
		if checksums {
			var s string
			q := "SELECT coalesce(md5(string_agg(x.t, E'\\n' ORDER BY x.t)), '') FROM (SELECT ROW(" + strings.Join(t.Cols, ", ") + ")::text AS t FROM ONLY " + t.quoted() + ") x"
			if err := c.QueryRow(ctx, q).Scan(&s); err != nil {
				return nil, nil, fmt.Errorf("checksum %s: %w", t.key(), err)
			}
			sums[t.key()] = s
		}
	}
	n, sum, err := countLargeObjects(ctx, c, checksums)
	if err != nil {
		return nil, nil, err
	}
	if n > 0 {
		rows[largeObjects] = n
		if checksums {
			sums[largeObjects] = sum
		}
	}
	return rows, sums, nil
}

// compare lists every difference between a manifest database and what the target holds.
func compare(want Database, rows map[string]int64, sums map[string]string) []string {
	var out []string
	var keys []string
	for k := range want.Rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		got, ok := rows[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s.%s: missing on the target (source had %d rows)", want.Name, k, want.Rows[k]))
		case got != want.Rows[k]:
			out = append(out, fmt.Sprintf("%s.%s: %d rows on the target, %d in the source snapshot", want.Name, k, got, want.Rows[k]))
		case want.Checksums != nil && sums != nil && sums[k] != want.Checksums[k]:
			out = append(out, fmt.Sprintf("%s.%s: same row count, different content (checksum %s vs %s)", want.Name, k, sums[k], want.Checksums[k]))
		}
	}
	for k := range rows {
		if _, ok := want.Rows[k]; !ok {
			out = append(out, fmt.Sprintf("%s.%s: on the target but not in the source snapshot", want.Name, k))
		}
	}
	return out
}
