package pgdata

import (
	"bufio"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

func joinCols(cols []string) string { return strings.Join(cols, ", ") }

// sourceFeeder reads each piece from the source with COPY … TO STDOUT (FORMAT binary) on its own
// connection, joined to the exported snapshot, so every worker sees the same data, and relays it to
// the target as it comes (relayCopy).
type sourceFeeder struct{ c *pgx.Conn }

func openSource(ctx context.Context, src dsn, db, snap string) (feeder, error) {
	c, err := src.connect(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, q := range []string{"BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", "SET TRANSACTION SNAPSHOT " + literal(snap)} {
		if _, err := c.Exec(ctx, q); err != nil {
			c.Close(context.WithoutCancel(ctx))
			return nil, fmt.Errorf("join snapshot %s: %w", snap, err)
		}
	}
	return &sourceFeeder{c: c}, nil
}

func (s *sourceFeeder) load(ctx context.Context, tc *pgconn.PgConn, p piece, in string) (int64, error) {
	cols := joinCols(p.t.Cols)
	out := "COPY " + p.t.quoted() + " (" + cols + ") TO STDOUT (FORMAT binary)"
	if p.where != "" {
		out = "COPY (SELECT " + cols + " FROM ONLY " + p.t.quoted() + " WHERE " + p.where + ") TO STDOUT (FORMAT binary)"
	}
	return relayCopy(ctx, s.c.PgConn(), tc, out, in)
}

func (s *sourceFeeder) close() { s.c.Close(context.Background()) }

// fileFeeder loads each piece from its data file in a directory-format dump (COPY text, gzip'd
// when the dump was compressed).
type fileFeeder struct{}

func (fileFeeder) load(ctx context.Context, tc *pgconn.PgConn, p piece, in string) (int64, error) {
	f, err := os.Open(p.file)
	if err != nil {
		return 0, fmt.Errorf("data file of %s: %w", p.t.key(), err)
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(p.file, ".gz") {
		gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
		if err != nil {
			return 0, fmt.Errorf("data file %s: %w", p.file, err)
		}
		defer gz.Close()
		r = gz
	}
	tag, err := tc.CopyFrom(ctx, r, in)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

func (fileFeeder) close() {}
