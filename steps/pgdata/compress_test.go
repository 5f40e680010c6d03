package pgdata_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// compress: auto gzips a database whose rows compress well (blank-padded, as pgbench's) and leaves
// one of random text raw; both restore whole. A value pg_dump would not take is refused before
// anything is written.
func TestDumpCompressesOnlyWhatPays(t *testing.T) {
	ctx := context.Background()
	src, tgt := testbed.Postgres(t), testbed.Postgres(t)
	src.Exec(t, "postgres", "CREATE DATABASE padded")
	src.Exec(t, "padded", `CREATE TABLE accounts (aid int PRIMARY KEY, bid int, abalance int, filler char(84));
		INSERT INTO accounts SELECT g, g / 1000, 0, '' FROM generate_series(1, 30000) g;
		CREATE TABLE branches (bid int PRIMARY KEY, filler char(88));
		INSERT INTO branches SELECT g, '' FROM generate_series(1, 30) g;`)
	src.Exec(t, "postgres", "CREATE DATABASE noisy")
	src.Exec(t, "noisy", `CREATE TABLE t (id bigint PRIMARY KEY, a text, b text);
		INSERT INTO t SELECT g, md5(random()::text) || md5(random()::text), md5(random()::text) FROM generate_series(1, 30000) g;`)
	srcConn := fmt.Sprintf("host=%s port=%d user=postgres", src.SocketDir, src.Port)
	tgtConn := fmt.Sprintf("host=%s port=%d user=postgres", tgt.SocketDir, tgt.Port)
	reg := all.Registry()
	env := steptest.Env(t, map[string]string{})

	t.Run("a level pg_dump would not take", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "work")
		st := steptest.Decode(t, reg, "pg-dump", fmt.Sprintf("source: { conn: %q }\ndir: %q\ncompress: fast\n", srcConn, dir))
		_, err := st.Apply(ctx, env)
		if err == nil || !strings.Contains(err.Error(), "give auto") {
			t.Fatalf("compress: fast was not refused with the fix: %v", err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Fatalf("the refused dump wrote %s (%v)", dir, err)
		}
	})

	dir := filepath.Join(t.TempDir(), "work")
	for _, kind := range []string{"pg-dump", "pg-restore"} {
		with := map[string]string{
			"pg-dump":    fmt.Sprintf("source: { conn: %q }\ndatabases: padded,noisy\n", srcConn),
			"pg-restore": fmt.Sprintf("target: { conn: %q }\n", tgtConn),
		}[kind]
		st := steptest.Decode(t, reg, kind, with+fmt.Sprintf("dir: %q\n", dir))
		if _, err := st.Apply(ctx, env); err != nil {
			t.Fatalf("%s: %v", kind, err)
		}
		if err := st.Verify(ctx, env); err != nil {
			t.Fatalf("%s verify: %v", kind, err)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "cairn-manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m pgdata.Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, db := range m.Databases {
		want := map[string]int{"padded": 1, "noisy": 0}[db.Name]
		if db.Compress != want {
			t.Errorf("%s dumped with gzip level %d, want %d", db.Name, db.Compress, want)
		}
		gz, _ := filepath.Glob(filepath.Join(dir, db.Dir, "[0-9]*.dat.gz"))
		raw, _ := filepath.Glob(filepath.Join(dir, db.Dir, "[0-9]*.dat"))
		if (want > 0) != (len(gz) > 0) || (want > 0) == (len(raw) > 0) {
			t.Errorf("%s: data files gzip'd %v, raw %v; want gzip'd: %v", db.Name, gz, raw, want > 0)
		}
	}
	for _, db := range []string{"padded", "noisy"} {
		want, got := fingerprint(ctx, t, src.ConnString(db, "postgres")), fingerprint(ctx, t, tgt.ConnString(db, "postgres"))
		if got.data != want.data {
			t.Errorf("%s: the data on the target differs from the source's:\n%s", db, lineDiff(want.data, got.data))
		}
	}
}
