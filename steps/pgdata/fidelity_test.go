package pgdata_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// A schema with what makes a copy go wrong: partitions, inheritance, generated and dropped
// columns, identity and serial sequences, expression/partial/exclusion/deferrable keys, a
// clustered index, a replica-identity index, a statistics target, names with spaces, foreign keys,
// a materialized view with an index, comments.
const fidelitySchema = `
CREATE TABLE customers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, email text NOT NULL UNIQUE, name text, dropme int,
  search tsvector GENERATED ALWAYS AS (to_tsvector('simple', coalesce(name, ''))) STORED);
ALTER TABLE customers DROP COLUMN dropme;
CREATE INDEX customers_lower_email ON customers (lower(email));
CREATE INDEX customers_named ON customers (name) WHERE name IS NOT NULL;
COMMENT ON INDEX customers_named IS 'customers with a name';
CREATE TABLE orders (id bigserial PRIMARY KEY, customer_id bigint NOT NULL REFERENCES customers (id), placed timestamptz NOT NULL, total numeric(12,2), note text);
CREATE INDEX orders_customer ON orders (customer_id);
ALTER TABLE orders CLUSTER ON orders_customer;
CREATE TABLE bookings (id int PRIMARY KEY, during tstzrange NOT NULL, EXCLUDE USING gist (during WITH &&));
CREATE TABLE events (id bigint NOT NULL, at date NOT NULL, what text, PRIMARY KEY (id, at)) PARTITION BY RANGE (at);
CREATE TABLE events_2025 PARTITION OF events FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE INDEX events_what ON events (what);
CREATE TABLE log_base (id int, msg text);
CREATE TABLE log_child (extra int) INHERITS (log_base);
CREATE TABLE "Odd Table" (k int CONSTRAINT "odd key" PRIMARY KEY, v text);
CREATE INDEX "odd index" ON "Odd Table" (v);
CREATE TABLE stats (id int PRIMARY KEY, v int);
CREATE INDEX stats_v ON stats ((v * 2));
ALTER INDEX stats_v ALTER COLUMN 1 SET STATISTICS 500;
CREATE TABLE ri (id int NOT NULL, v int);
CREATE UNIQUE INDEX ri_id ON ri (id);
ALTER TABLE ri REPLICA IDENTITY USING INDEX ri_id;
CREATE TABLE deferred (id int, CONSTRAINT deferred_u UNIQUE (id) DEFERRABLE INITIALLY DEFERRED);

INSERT INTO customers (email, name) SELECT 'c' || g || '@example.com', CASE WHEN g % 3 > 0 THEN 'name ' || g END FROM generate_series(1, 3000) g;
INSERT INTO orders (customer_id, placed, total, note) SELECT 1 + g % 3000, '2026-01-01'::timestamptz + g * interval '1 minute', g / 7.0, E'tab\there, newline\nthere, quote '' and backslash \\' FROM generate_series(1, 20000) g;
INSERT INTO bookings SELECT g, tstzrange('2026-01-01'::timestamptz + g * interval '1 hour', '2026-01-01'::timestamptz + (g + 1) * interval '1 hour') FROM generate_series(1, 500) g;
INSERT INTO events SELECT g, '2025-06-01'::date + g % 400, 'what ' || g FROM generate_series(1, 5000) g;
INSERT INTO log_base SELECT g, 'base ' || g FROM generate_series(1, 100) g;
INSERT INTO log_child SELECT g, 'child ' || g, g FROM generate_series(1, 70) g;
INSERT INTO "Odd Table" SELECT g, 'odd ' || g FROM generate_series(1, 300) g;
INSERT INTO stats SELECT g, g % 10 FROM generate_series(1, 1000) g;
INSERT INTO ri SELECT g, g FROM generate_series(1, 50) g;
INSERT INTO deferred SELECT g FROM generate_series(1, 50) g;
CREATE MATERIALIZED VIEW order_totals AS SELECT customer_id, sum(total) AS s FROM orders GROUP BY 1;
CREATE UNIQUE INDEX order_totals_customer ON order_totals (customer_id);
SELECT nextval('orders_id_seq');
SELECT lo_from_bytea(0, convert_to('large object ' || g || repeat(' and more', g * 1000), 'UTF8')) FROM generate_series(1, 3) g;
`

func TestDumpRestoreAndStreamKeepEveryObjectAndRow(t *testing.T) {
	ctx := context.Background()
	src, tgt := testbed.Postgres(t), testbed.Postgres(t)
	src.Exec(t, "postgres", "CREATE DATABASE shop")
	src.Exec(t, "shop", fidelitySchema)
	srcConn := fmt.Sprintf("host=%s port=%d user=postgres", src.SocketDir, src.Port)
	tgtConn := fmt.Sprintf("host=%s port=%d user=postgres", tgt.SocketDir, tgt.Port)
	reg := all.Registry()
	want := fingerprint(ctx, t, src.ConnString("shop", "postgres"))

	// the dump both raw and gzip'd: compress: auto picks either, by the data
	for _, mode := range []string{"dump", "dump-gzip", "stream"} {
		t.Run(mode, func(t *testing.T) {
			tgt.Exec(t, "postgres", "DROP DATABASE IF EXISTS shop WITH (FORCE)")
			dir := filepath.Join(t.TempDir(), "work")
			env := steptest.Env(t, map[string]string{})
			var kinds []string
			if mode != "stream" {
				kinds = []string{"pg-dump", "pg-restore"}
			} else {
				kinds = []string{"pg-stream-copy"}
			}
			for _, kind := range kinds {
				with := map[string]string{
					"pg-dump":        fmt.Sprintf("source: { conn: %q }\ndatabases: shop\ncompress: %q\n", srcConn, map[bool]string{true: "6", false: "0"}[mode == "dump-gzip"]),
					"pg-restore":     fmt.Sprintf("target: { conn: %q }\n", tgtConn),
					"pg-stream-copy": fmt.Sprintf("source: { conn: %q }\ntarget: { conn: %q }\ndatabases: shop\n", srcConn, tgtConn),
				}[kind]
				st := steptest.Decode(t, reg, kind, with+fmt.Sprintf("dir: %q\njobs: \"2\"\n", dir))
				if _, err := st.Apply(ctx, env); err != nil {
					t.Fatalf("%s: %v", kind, err)
				}
				if err := st.Verify(ctx, env); err != nil {
					t.Fatalf("%s verify: %v", kind, err)
				}
			}
			got := fingerprint(ctx, t, tgt.ConnString("shop", "postgres"))
			if got.schema != want.schema {
				t.Errorf("the schema on the target differs from the source's (%s):\n%s", mode, lineDiff(want.schema, got.schema))
			}
			if got.data != want.data {
				t.Errorf("the data on the target differs from the source's (%s):\n%s", mode, lineDiff(want.data, got.data))
			}

			// the indexes cairn built itself as each table landed: the plain ones; the ones pg_dump
			// adds statements to, and partitions', were left to pg_restore (and are in the schema above)
			var m pgdata.Manifest
			b, err := os.ReadFile(filepath.Join(dir, "cairn-manifest.json"))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			var early []string
			for _, ix := range m.Databases[0].Indexes {
				early = append(early, ix.Entry)
			}
			wantEarly := []string{
				"CONSTRAINT public Odd Table odd key", "CONSTRAINT public bookings bookings_during_excl", "CONSTRAINT public bookings bookings_pkey",
				"CONSTRAINT public customers customers_email_key", "CONSTRAINT public customers customers_pkey",
				"CONSTRAINT public deferred deferred_u", "CONSTRAINT public orders orders_pkey",
				"CONSTRAINT public stats stats_pkey", "INDEX public customers_lower_email", "INDEX public customers_named", "INDEX public odd index",
			}
			slices.Sort(early)
			if !slices.Equal(early, wantEarly) {
				t.Errorf("indexes built as their table landed:\n%s\nwant:\n%s", strings.Join(early, "\n"), strings.Join(wantEarly, "\n"))
			}
		})
	}
}

type dbPrint struct{ schema, data string }

// fingerprint is what must be the same on both sides: pg_dump's schema text, and per table (every
// leaf, ONLY its own rows) the row count and an md5 of its sorted rows, and every sequence's state.
func fingerprint(ctx context.Context, t *testing.T, conn string) dbPrint {
	t.Helper()
	out, err := exec.CommandContext(ctx, "pg_dump", "--schema-only", "-d", conn).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump -s: %v\n%s", err, out)
	}
	var schema []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(l, `\restrict`) || strings.HasPrefix(l, `\unrestrict`) {
			continue // a random key per dump
		}
		schema = append(schema, l)
	}
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'm', 'S') AND n.nspname = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	type rel struct{ Name, Kind string }
	rels, err := pgx.CollectRows(rows, pgx.RowToStructByPos[rel])
	if err != nil {
		t.Fatal(err)
	}
	var data []string
	for _, r := range rels {
		q := "SELECT count(*)::text || ' ' || coalesce(md5(string_agg(x::text, E'\\n' ORDER BY x::text)), '') FROM ONLY " + r.Name + " x"
		if r.Kind == "S" {
			q = "SELECT last_value::text || ' ' || is_called::text FROM " + r.Name
		}
		var s string
		if err := c.QueryRow(ctx, q).Scan(&s); err != nil {
			t.Fatalf("%s: %v", r.Name, err)
		}
		data = append(data, r.Name+" "+s)
	}
	var los string
	if err := c.QueryRow(ctx, "SELECT count(*)::text || ' ' || coalesce(string_agg(oid::text || ':' || md5(lo_get(oid)), ',' ORDER BY oid), '') FROM pg_largeobject_metadata").Scan(&los); err != nil {
		t.Fatal(err)
	}
	data = append(data, "large objects "+los)
	return dbPrint{schema: strings.Join(schema, "\n"), data: strings.Join(data, "\n")}
}

// lineDiff lists the lines only one side has.
func lineDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	var out []string
	for _, l := range al {
		if !slices.Contains(bl, l) {
			out = append(out, "- "+l)
		}
	}
	for _, l := range bl {
		if !slices.Contains(al, l) {
			out = append(out, "+ "+l)
		}
	}
	return strings.Join(out, "\n")
}
