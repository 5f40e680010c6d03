package pgdata

import (
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"strconv"

	"github.com/jackc/pgx/v5"
)

// compressAuto is the pg-dump kind's default `compress:` value: gzip the dump only when the data
// compresses well enough to pay for it.
const compressAuto = "auto"

// Why a threshold and not always or never (bench/migrate.sh, 2 cores, PostgreSQL 15): on pgbench's
// blank-padded accounts (35:1) gzip made the dump's write and fsync nearly vanish for less CPU than
// they cost; on 16 tables of md5 text (2.2:1) the same dump gzip'd restored 2.3 s slower, the
// inflate taking CPU from the server's COPY. Below this ratio the dump stays raw.
const autoCompressRatio = 8.0

// autoCompressLevel is the gzip level used when the data compresses well: on such data level 1
// is within noise of level 6's size, and the cheapest to write.
const autoCompressLevel = "1"

// samplePages is how much of each sampled table is read (TABLESAMPLE SYSTEM picks whole pages).
const samplePages = 128

// dumpCompression resolves a `compress:` value: a gzip level 0–9 as given, or for "auto" (or
// empty) level 1 when a sample of the largest tables compresses at least autoCompressRatio:1,
// else 0. It reports the ratio it measured (0 when it measured none).
func dumpCompression(ctx context.Context, c *pgx.Conn, z string, tables []tableRef) (level string, ratio float64, err error) {
	if z != "" && z != compressAuto {
		return z, 0, nil
	}
	ratio, err = sampleRatio(ctx, c, tables)
	if err != nil {
		return "", 0, err
	}
	if ratio >= autoCompressRatio {
		return autoCompressLevel, ratio, nil
	}
	return "0", ratio, nil
}

// checkCompress refuses a `compress:` value pg_dump would not take, before anything runs.
func checkCompress(z string) error {
	if z == "" || z == compressAuto {
		return nil
	}
	if n, err := strconv.Atoi(z); err != nil || n < 0 || n > 9 {
		return fmt.Errorf("compress %q: give auto (gzip only when the data compresses well) or a gzip level 0–9 (0: none)", z)
	}
	return nil
}

// sampleRatio estimates how well the database's rows compress with gzip: it reads a sample of
// pages (COPY text, as pg_dump writes it) from each of the largest tables that together hold
// nine tenths of the data, at most 8 of them, and weighs each table's ratio by its size. A
// database with no rows has a ratio of 0 (nothing to gain).
func sampleRatio(ctx context.Context, c *pgx.Conn, tables []tableRef) (float64, error) {
	var total int64
	for _, t := range tables {
		total += t.Pages
	}
	if total == 0 {
		return 0, nil
	}
	var raw, packed float64 // estimated bytes of the sampled tables, raw and gzip'd
	covered := int64(0)
	for i, t := range tables { // largest first (userTables' order)
		if i == 8 || covered*10 >= total*9 || t.Pages == 0 {
			break
		}
		covered += t.Pages
		if len(t.Cols) == 0 {
			continue
		}
		in, out, err := sampleTable(ctx, c, t)
		if err != nil {
			return 0, err
		}
		if in == 0 {
			continue
		}
		raw += float64(t.Pages)
		packed += float64(t.Pages) * float64(out) / float64(in)
	}
	if packed == 0 {
		return 0, nil
	}
	return raw / packed, nil
}

// sampleTable gzips a sample of t's rows and says how many bytes went in and came out.
func sampleTable(ctx context.Context, c *pgx.Conn, t tableRef) (in, out int64, err error) {
	from := "ONLY " + t.quoted()
	if t.Pages > samplePages {
		from += fmt.Sprintf(" TABLESAMPLE SYSTEM (%g) REPEATABLE (0)", 100*float64(samplePages)/float64(t.Pages))
	}
	var n countWriter
	zw, _ := gzip.NewWriterLevel(&n, gzip.BestSpeed)
	cw := &countWriter{w: zw}
	q := "COPY (SELECT " + joinCols(t.Cols) + " FROM " + from + ") TO STDOUT"
	if _, err := c.PgConn().CopyTo(ctx, cw, q); err != nil {
		return 0, 0, fmt.Errorf("sample %s to choose the dump's compression: %w", t.key(), err)
	}
	if err := zw.Close(); err != nil {
		return 0, 0, err
	}
	return cw.n, n.n, nil
}

// countWriter counts the bytes written through it (to w, or nowhere).
type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	if c.w == nil {
		return len(p), nil
	}
	return c.w.Write(p)
}
