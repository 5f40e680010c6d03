package pgdata

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// The wire relay on real servers: rows arrive whole, a refusal by the target or a failure on the
// source ends the copy with that server's error, and both connections stay usable when it succeeds.
func TestRelayCopy(t *testing.T) {
	ctx := context.Background()
	src, tgt := testbed.Postgres(t), testbed.Postgres(t)
	src.Exec(t, "postgres", `CREATE TABLE t (id int, v text);
		INSERT INTO t SELECT g, repeat('x', g % 5000) || E'\t\\\n' FROM generate_series(1, 20000) g;
		INSERT INTO t VALUES (20001, repeat('big row ', 300000))`) // one row larger than the relay's buffer
	tgt.Exec(t, "postgres", `CREATE TABLE t (id int CHECK (id <> 15000), v text); CREATE TABLE ok (id int, v text)`)
	connect := func(c *testbed.PG) *pgx.Conn {
		conn, err := pgx.Connect(ctx, c.ConnString("postgres", "postgres"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(ctx) })
		return conn
	}
	for _, tc := range []struct {
		name, out, in, wantErr string
		wantRows               int64
	}{
		{"every row, whole", "COPY t TO STDOUT (FORMAT binary)", "COPY ok FROM STDIN (FORMAT binary)", "", 20001},
		{"the target refuses a row", "COPY t TO STDOUT (FORMAT binary)", "COPY t FROM STDIN (FORMAT binary)", "23514", 0},
		{"the source fails halfway", "COPY (SELECT id, CASE WHEN id = 12000 THEN (1/0)::text ELSE v END FROM t) TO STDOUT (FORMAT binary)", "COPY ok FROM STDIN (FORMAT binary)", "22012", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, tc2 := connect(src), connect(tgt)
			if _, err := tc2.Exec(ctx, "TRUNCATE ok"); err != nil {
				t.Fatal(err)
			}
			n, err := relayCopy(ctx, sc.PgConn(), tc2.PgConn(), tc.out, tc.in)
			if tc.wantErr != "" {
				var pe *pgconn.PgError
				if !errors.As(err, &pe) || pe.Code != tc.wantErr {
					t.Fatalf("err = %v, want SQLSTATE %s", err, tc.wantErr)
				}
				return
			}
			if err != nil || n != tc.wantRows {
				t.Fatalf("relayed %d rows (%v), want %d", n, err, tc.wantRows)
			}
			// both connections answer the next statement, and the rows are the source's
			var a, b string
			q := "SELECT count(*)::text || md5(string_agg(id::text || v, ',' ORDER BY id)) FROM %s"
			if err := sc.QueryRow(ctx, fmt.Sprintf(q, "t")).Scan(&a); err != nil {
				t.Fatal(err)
			}
			if err := tc2.QueryRow(ctx, fmt.Sprintf(q, "ok")).Scan(&b); err != nil {
				t.Fatal(err)
			}
			if a != b || !strings.HasPrefix(a, "20001") {
				t.Fatalf("target %s, source %s", b, a)
			}
		})
	}
}
