package rdsencrypt_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/loadgen"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// appWriter is the demo application writing through app-db's name-following endpoint (the one
// DescribeDBInstances gave for the name before the run) while a run rebuilds the instance.
type appWriter struct {
	w    *loadgen.Writer
	conn string
	stop func() *loadgen.Record
}

// startWriter starts the application writing as app_rw and waits for its first commits.
func (r *rig) startWriter() *appWriter {
	r.t.Helper()
	conn, err := loadgen.Endpoint(context.Background(), r.rds, twin.DemoInstance, twin.DemoDatabase, "app_rw", "app-rw-demo")
	if err != nil {
		r.t.Fatal(err)
	}
	a := &appWriter{w: loadgen.New(loadgen.Config{ConnString: conn, Every: 10 * time.Millisecond}), conn: conn}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *loadgen.Record, 1)
	go func() { done <- a.w.Run(ctx) }()
	a.stop = sync.OnceValue(func() *loadgen.Record { cancel(); return <-done })
	r.t.Cleanup(func() { a.stop() })
	r.waitWriter(a, "the application's first writes", func(s loadgen.Stats) bool { return s.Commits >= 10 })
	return a
}

func (r *rig) waitWriter(a *appWriter, what string, cond func(loadgen.Stats) bool) {
	r.t.Helper()
	for deadline := time.Now().Add(3 * time.Minute); !cond(a.w.Stats()); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("timed out waiting for %s: %+v\n%s", what, a.w.Stats(), r.runnerLog())
		}
	}
}

// finish waits until the application writes again under the original name after its last outage
// (a few orders committed since), stops it and returns what it saw.
func (r *rig) finish(a *appWriter) *loadgen.Record {
	r.t.Helper()
	r.waitWriter(a, "the application to write again", func(s loadgen.Stats) bool { return s.Outages > 0 && !s.Failing })
	since := a.w.Stats().Commits
	r.waitWriter(a, "writes after the outage", func(s loadgen.Stats) bool { return s.Commits >= since+5 })
	return a.stop()
}

// noneLost checks, through the same endpoint, that the instance under the original name holds
// every order the application saw committed, with its last committed status, and that the orders'
// sequence is not behind.
func (r *rig) noneLost(a *appWriter, rec *loadgen.Record) {
	r.t.Helper()
	v, err := loadgen.Check(context.Background(), a.conn, rec)
	if err != nil {
		r.t.Fatal(err)
	}
	if !v.OK() {
		r.t.Fatalf("writes lost: %s\noutages: %+v\n%s", v, rec.Outages, r.runnerLog())
	}
	if v.Committed < 20 {
		r.t.Fatalf("only %d orders committed: the writer did not run throughout", v.Committed)
	}
	r.t.Logf("%s; %d inserts unanswered; outages %s", v, rec.Uncertain, outages(rec))
}

func outages(rec *loadgen.Record) string {
	var parts []string
	for _, o := range rec.Outages {
		parts = append(parts, fmt.Sprintf("%v (%d failed, first: %s, last: %s)", o.Length().Round(time.Millisecond), o.Failures, o.FirstError, o.LastError))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

// countsEqual compares every table's rows on the old instance (kept, quiesced since the cut-over)
// and on the new one under the original name: equal, but for the orders the application committed
// after its last outage, which only the new one has, and at most the inserts whose answer the
// application never got (rec.Uncertain: they may have been committed on either).
func (r *rig) countsEqual(old string, rec *loadgen.Record) {
	r.t.Helper()
	after := 0
	for _, c := range rec.Commits {
		if c.After == len(rec.Outages) {
			after++
		}
	}
	was, is := r.tableCounts(old), r.tableCounts(twin.DemoInstance)
	want := maps.Clone(was)
	want["app.shop.orders"] += int64(after)
	extra := is["app.shop.orders"] - want["app.shop.orders"]
	if extra >= 0 && extra <= int64(rec.Uncertain) {
		want["app.shop.orders"] += extra
	}
	if !maps.Equal(want, is) {
		var diff []string
		for _, k := range slices.Sorted(maps.Keys(is)) {
			if want[k] != is[k] {
				diff = append(diff, fmt.Sprintf("%s: %d on %s (%d expected), %d on %s", k, was[k], old, want[k], is[k], twin.DemoInstance))
			}
		}
		r.t.Fatalf("row counts differ (%d orders committed after the outage, %d inserts unanswered):\n%s", after, rec.Uncertain, strings.Join(diff, "\n"))
	}
}

// tableCounts counts every user table's rows in the demo's databases, as the master.
func (r *rig) tableCounts(id string) map[string]int64 {
	r.t.Helper()
	ctx := context.Background()
	out := map[string]int64{}
	for _, db := range []string{"app", "analytics"} {
		c, err := r.login(id, db, twin.DemoMaster, twin.DemoPassword)
		if err != nil {
			r.t.Fatalf("log in to %s/%s: %v", id, db, err)
		}
		for _, tb := range r.userTables(c) {
			var n int64
			if err := c.QueryRow(ctx, "SELECT count(*) FROM "+tb).Scan(&n); err != nil {
				r.t.Fatal(err)
			}
			out[db+"."+tb] = n
		}
		c.Close(ctx)
	}
	return out
}

// killedUnderWriter starts the application writing through app-db's endpoint, starts the run
// (args) and SIGKILLs its runner while step is applying, resumes it to success, waits until the
// application writes again under the original name and returns what it saw. No step of the run
// was applied twice.
func (r *rig) killedUnderWriter(step string, args []string) (*appWriter, *loadgen.Record) {
	r.t.Helper()
	app := r.startWriter()
	run := r.killDuring(step, 0, args...)
	out, code := r.cairn("resume", run.ID, "--yes", "--confirm", openWindow, "--no-tui")
	if code != 0 || !strings.Contains(out, "SUCCEEDED") {
		r.t.Fatalf("resume: exit %d\n%s\n%s", code, out, r.runnerLog())
	}
	rec := r.finish(app)
	r.noStepRepeated(run)
	return app, rec
}

// Strategy logical (streamed, then a swap) with the application writing through app-db's endpoint
// all along, and the runner SIGKILLed in the cut-over while the source is being renamed away:
// `cairn resume` finishes; every order the application saw committed is on the new, encrypted
// instance under the original name with its last status, the sequence is not behind, and every
// table's rows match the old instance's (kept), but for the orders written after the swap.
func TestLogicalUnderWriterKilledInCutOver(t *testing.T) {
	r := newRig(t)
	r.createSecret("cairn/app-db/roles", map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	args := append([]string{"run", "rds-encrypt"}, r.params("strategy=logical", "copy-method=stream", "passwords-secret=cairn/app-db/roles", "keep-old=true")...)
	app, rec := r.killedUnderWriter("rename-source", append(args, "--yes", "--confirm", openWindow))
	if found, enc, key, _, _ := r.instance(twin.DemoInstance); !found || !enc || key != r.keyARN() {
		t.Fatalf("%s: found=%v encrypted=%v key=%s", twin.DemoInstance, found, enc, key)
	}
	r.noneLost(app, rec)
	r.countsEqual(twin.DemoInstance+"-unencrypted", rec)
}
