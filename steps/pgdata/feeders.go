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
)

func joinCols(cols []string) string { return strings.Join(cols, ", ") }

// sourceFeeder reads each piece from the source with COPY … TO STDOUT (FORMAT binary) on its own
// connection, joined to the exported snapshot, so every worker sees the same data.
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

// copy blocks of 256 KiB, up to 8 of them in flight: enough slack that neither backend waits
const pipeBlock, pipeDepth = 256 << 10, 8

func (s *sourceFeeder) open(ctx context.Context, p piece) (io.Reader, func() error, error) {
	cols := joinCols(p.t.Cols)
	out := "COPY " + p.t.quoted() + " (" + cols + ") TO STDOUT (FORMAT binary)"
	if p.where != "" {
		out = "COPY (SELECT " + cols + " FROM ONLY " + p.t.quoted() + " WHERE " + p.where + ") TO STDOUT (FORMAT binary)"
	}
	pipe := newBlockPipe(pipeBlock, pipeDepth)
	errc := make(chan error, 1)
	go func() {
		_, err := s.c.PgConn().CopyTo(ctx, pipe, out)
		pipe.CloseWrite(err)
		errc <- err
	}()
	return pipe, func() error {
		pipe.CloseRead()
		if err := <-errc; err != nil {
			return fmt.Errorf("read from the source: %w", err)
		}
		return nil
	}, nil
}

func (s *sourceFeeder) close() { s.c.Close(context.Background()) }

// fileFeeder reads each piece from its data file in a directory-format dump (COPY text, gzip'd
// when the dump was compressed).
type fileFeeder struct{}

func (fileFeeder) open(_ context.Context, p piece) (io.Reader, func() error, error) {
	f, err := os.Open(p.file)
	if err != nil {
		return nil, nil, fmt.Errorf("data file of %s: %w", p.t.key(), err)
	}
	if !strings.HasSuffix(p.file, ".gz") {
		return f, f.Close, nil
	}
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("data file %s: %w", p.file, err)
	}
	return gz, func() error { gz.Close(); return f.Close() }, nil
}

func (fileFeeder) close() {}
