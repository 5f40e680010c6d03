package loadgen_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/loadgen"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// One cluster for the package's cases; each case writes in a database of its own.
func TestWriter(t *testing.T) {
	pg := testbed.Postgres(t)
	pg.Exec(t, "postgres", loadgen.Role)
	newDB := func(t *testing.T, name string) string {
		pg.Exec(t, "postgres", "CREATE DATABASE "+name)
		pg.Exec(t, name, loadgen.Schema)
		return pg.TCPConnString(name, "app_rw") + " password=app-rw-demo"
	}
	// start runs a writer on conn until the returned stop is called.
	start := func(conn string) (*loadgen.Writer, func() *loadgen.Record) {
		w := loadgen.New(loadgen.Config{ConnString: conn, Every: time.Millisecond, Retry: 5 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan *loadgen.Record, 1)
		go func() { done <- w.Run(ctx) }()
		return w, func() *loadgen.Record { cancel(); return <-done }
	}

	t.Run("an outage is measured from the first failed write to the first committed one", func(t *testing.T) {
		conn := newDB(t, "outage")
		w, stop := start(conn)
		waitUntil(t, "writes before the outage", func() bool { s := w.Stats(); return s.Commits >= 20 && s.Updates >= 10 })
		beforeBlock := time.Now()
		pg.Exec(t, "outage", "ALTER ROLE app_rw CONNECTION LIMIT 0")
		pg.Exec(t, "outage", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'app_rw'")
		waitUntil(t, "the writer to be refused", func() bool { return w.Stats().Failing })
		atBlock := w.Stats().Commits
		unblocked := time.Now()
		pg.Exec(t, "outage", "ALTER ROLE app_rw CONNECTION LIMIT -1")
		waitUntil(t, "writes after the outage", func() bool { s := w.Stats(); return !s.Failing && s.Commits >= atBlock+20 })
		rec := stop()

		if len(rec.Outages) != 1 {
			t.Fatalf("want one outage, got %+v", rec.Outages)
		}
		o := rec.Outages[0]
		if o.Start.Before(beforeBlock) || o.Start.After(unblocked) || o.End.Before(unblocked) || o.Length() <= 0 {
			t.Fatalf("outage %v → %v does not span the block (%v) → unblock (%v)", o.Start, o.End, beforeBlock, unblocked)
		}
		if o.Failures < 1 || o.FirstError == "" || rec.Downtime() != o.Length() {
			t.Fatalf("outage %+v, downtime %v", o, rec.Downtime())
		}
		after := 0
		for _, c := range rec.Commits {
			if c.After == 1 {
				after++
			}
		}
		if after < 20 {
			t.Fatalf("%d orders recorded as committed after the outage, want at least 20", after)
		}
		v, err := loadgen.Check(context.Background(), conn, rec)
		if err != nil {
			t.Fatal(err)
		}
		if !v.OK() || v.Committed != len(rec.Commits) {
			t.Fatalf("nothing was lost, yet: %s", v)
		}
	})

	t.Run("a lost order, a lost update and a sequence set back are found", func(t *testing.T) {
		conn := newDB(t, "lost")
		w, stop := start(conn)
		waitUntil(t, "shipped orders", func() bool { s := w.Stats(); return s.Commits >= 30 && s.Updates >= 20 })
		rec := stop()
		if v, err := loadgen.Check(context.Background(), conn, rec); err != nil || !v.OK() {
			t.Fatalf("before anything is lost: %v %s", err, v)
		}
		var gone, setBack int64
		for _, c := range rec.Commits {
			if c.Status == loadgen.StatusShipped && setBack == 0 {
				setBack = c.ID
			} else if gone == 0 {
				gone = c.ID
			}
		}
		pg.Exec(t, "lost", "DELETE FROM shop.orders WHERE id = $1", gone)
		pg.Exec(t, "lost", "UPDATE shop.orders SET status = 'paid' WHERE id = $1", setBack)
		pg.Exec(t, "lost", "SELECT setval('shop.orders_id_seq', $1)", rec.MaxID()-1)
		v, err := loadgen.Check(context.Background(), conn, rec)
		if err != nil {
			t.Fatal(err)
		}
		if v.OK() || !slices.Equal(v.Missing, []int64{gone}) || !slices.Equal(v.Behind, []int64{setBack}) || !v.SequenceBehind || v.Lost() != 2 {
			t.Fatalf("want order %d missing, order %d behind and the sequence behind, got: %s", gone, setBack, v)
		}
	})

	t.Run("an order lost under the running writer is seen by its update and by the check", func(t *testing.T) {
		conn := newDB(t, "underfoot")
		w, stop := start(conn)
		waitUntil(t, "writes", func() bool { return w.Stats().Commits >= 20 })
		pg.Exec(t, "underfoot", "DELETE FROM shop.orders WHERE status <> 'shipped'")
		waitUntil(t, "an update to miss its order", func() bool { return len(w.Record().Anomalies) > 0 })
		rec := stop()
		v, err := loadgen.Check(context.Background(), conn, rec)
		if err != nil {
			t.Fatal(err)
		}
		if v.OK() || len(v.Missing) == 0 || len(v.Anomalies) == 0 {
			t.Fatalf("want missing orders and the writer's anomaly, got: %s", v)
		}
	})
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
