package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// When the ETA from an earlier rehearsal passes the maintenance window's end, the run asks go /
// no-go before its first destructive step — and with no one to answer, stops before it.
func TestGoNoGoBeforeTheFirstDestructiveStep(t *testing.T) {
	w := newWorld(t)
	rb := filepath.Join(t.TempDir(), "slow.yaml")
	os.WriteFile(rb, []byte(`schema: 1
name: slow
title: A slow step, then a destructive one
steps:
  - id: slow
    kind: exec
    title: Takes a while
    with: {argv: [sleep, "1.5"], read_only: true}
  - id: drop
    kind: sql
    title: Drop the scratch table
    destructive: true
    confirm: none
    with:
      check: SELECT to_regclass('scratch') IS NULL
      statements: ["DROP TABLE scratch"]
`), 0o644)
	w.pg.Exec(t, "postgres", "CREATE TABLE scratch (id int)")
	// the rehearsal (on a copy of the table) gives the timings
	if out, _, code := w.cairn(nil, "run", "slow", "--file", rb, "--no-tui", "--rehearsal"); code != 0 {
		t.Fatalf("rehearsal: %d\n%s", code, out)
	}
	w.pg.Exec(t, "postgres", "CREATE TABLE scratch (id int)")
	out, _, code := w.cairn(nil, "run", "slow", "--file", rb, "--no-tui", "--window", "1s")
	if code == 0 || !strings.Contains(out, "after the window closes") {
		t.Fatalf("no go/no-go when the ETA passes the window: %d\n%s", code, out)
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_class WHERE relname = 'scratch'"); n != 1 {
		t.Fatal("the destructive step ran past the window without a go")
	}
	out, _, code = w.cairn(nil, "run", "slow", "--file", rb, "--no-tui", "--window", "1h")
	if code != 0 || strings.Contains(out, "after the window closes") {
		t.Fatalf("a run that fits its window was stopped: %d\n%s", code, out)
	}
}
