package pgdata

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// ReplicationWait is the `pg-replication-wait` kind: it waits, before the window, until every table
// of every subscription of this run has finished its initial copy (pg_subscription_rel all 'r') and
// the subscribers are at most MaxLag bytes behind the source, reporting the tables synced and then
// the lag (bytes, and seconds from pg_stat_replication) as progress. It guards the source's disk
// against a stalled subscriber: a slot of this run whose WAL was given up (wal_status lost) or that
// keeps more than guardShare (80 %) of SlotWALLimitMB — the runbook's slot-wal-limit-mb, which the
// parameter-group step sets as max_slot_wal_keep_size — stops the wait *before* the server
// invalidates the slot, naming both numbers and the fixes: `cairn rollback <run>` drops the slot
// (the replicate step's rollback), or a larger limit. Check says blocked in the same case. It reads
// only; nothing to roll back.
type ReplicationWait struct {
	Source Server `yaml:"source"`
	Target Server `yaml:"target"`
	// MaxLag is how far behind (bytes of WAL) the subscribers may be for the wait to end (default 16 MiB).
	MaxLag ref.Template `yaml:"max-lag"`
	// SlotWALLimitMB is max_slot_wal_keep_size on the source, in MB (a whole number of 1 or more):
	// the wait stops when a slot of this run keeps guardShare of it.
	SlotWALLimitMB ref.Template `yaml:"slot-wal-limit-mb"`
}

// guardShare is the share of the slot's WAL cap at which the wait stops: early enough that the
// server has not yet invalidated the slot (which it does at the cap, at a checkpoint), so a
// rollback or a larger limit still saves the replication's initial copy.
const guardShare = 0.8

// Validate refuses a slot-wal-limit-mb written in the runbook that is not a whole number of MB of 1
// or more (a reference is checked when the run resolves it).
func (w *ReplicationWait) Validate() error {
	if w.SlotWALLimitMB.IsZero() || len(w.SlotWALLimitMB.Refs()) > 0 {
		return nil
	}
	s, err := w.SlotWALLimitMB.Text(nil)
	if err == nil {
		_, err = walLimitBytes(s)
	}
	return err
}

// walLimitBytes reads slot-wal-limit-mb.
func walLimitBytes(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 1 || n > 1<<40 {
		return 0, fmt.Errorf("slot-wal-limit-mb: want a whole number of MB of 1 or more (max_slot_wal_keep_size; the wait stops at %.0f %% of it), got %q — an unlimited slot keeps WAL until the source's disk fills", guardShare*100, s)
	}
	return n << 20, nil
}

// limit resolves slot-wal-limit-mb in bytes (0: not given — the guard then stops only on a lost slot).
func (w *ReplicationWait) limit(env *steps.Env) (int64, error) {
	s, err := env.OptionalText(w.SlotWALLimitMB)
	if err != nil || strings.TrimSpace(s) == "" {
		return 0, err
	}
	return walLimitBytes(s)
}

// Describe lists the queries.
func (w *ReplicationWait) Describe(env *steps.Env) []steps.Action {
	guard := "stop if a slot is lost"
	if !w.SlotWALLimitMB.IsZero() {
		mb, share := env.Describe(w.SlotWALLimitMB), fmt.Sprintf("%.0f %%", guardShare*100)
		if b, err := walLimitBytes(mb); err == nil {
			share = bytesText(int64(float64(b)*guardShare)) + ", " + share
		}
		guard += fmt.Sprintf(" or keeps %s of slot-wal-limit-mb %s MB (the source's max_slot_wal_keep_size) — before the server invalidates it", share, mb)
	}
	return []steps.Action{
		{Kind: steps.ActWait, Target: w.Target.describe(env), Text: "poll, per database: SELECT srsubstate, count(*) FROM pg_subscription_rel WHERE srsubid = <this run's subscription> GROUP BY 1   -- until every table is 'r' (ready)"},
		{Kind: steps.ActWait, Target: w.Source.describe(env), Text: fmt.Sprintf("poll: SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), wal_status, pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn) FROM pg_replication_slots WHERE slot_name = <this run's>; replay_lag FROM pg_stat_replication   -- until the lag is at most %s bytes; %s",
			orDefault(env.Describe(w.MaxLag), "16777216"), guard)},
	}
}

func intOf(env *steps.Env, t ref.Template, def int64) (int64, error) {
	s, err := env.OptionalText(t)
	if err != nil || strings.TrimSpace(s) == "" {
		return def, err
	}
	return strconv.ParseInt(strings.TrimSpace(s), 10, 64)
}

// syncState is one look at the replication.
type syncState struct {
	ready, tables int
	lag           int64   // the largest of this run's slots' unconfirmed WAL
	lagSeconds    float64 // the largest replay_lag
	slots         map[string]slot
	missing       []string // databases without this run's subscription or slot
}

func (w *ReplicationWait) look(ctx context.Context, env *steps.Env) (syncState, error) {
	st := syncState{}
	src, dbs, oids, err := sourceDatabases(ctx, env, w.Source)
	if err != nil {
		return st, err
	}
	tgt, err := w.Target.resolve(ctx, env)
	if err != nil {
		return st, err
	}
	for _, db := range dbs {
		name := slotName(env, oids[db])
		tc, err := tgt.connect(ctx, db)
		if err != nil {
			return st, err
		}
		var ready, total int
		err = tc.QueryRow(ctx, `SELECT count(*) FILTER (WHERE r.srsubstate = 'r'), count(*) FROM pg_subscription_rel r
			JOIN pg_subscription s ON s.oid = r.srsubid WHERE s.subname = $1`, name).Scan(&ready, &total)
		if err == nil {
			_, ok, e := subscriptionOf(ctx, tc, name)
			if e == nil && !ok {
				st.missing = append(st.missing, db)
			}
			err = e
		}
		tc.Close(context.WithoutCancel(ctx))
		if err != nil {
			return st, fmt.Errorf("%s: read the subscription's tables: %w", db, err)
		}
		st.ready += ready
		st.tables += total
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return st, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	all, err := cairnSlots(ctx, c)
	if err != nil {
		return st, err
	}
	st.slots, _ = ofRun(env, all)
	for _, db := range dbs {
		if s, ok := st.slots[slotName(env, oids[db])]; ok {
			st.lag = max(st.lag, s.Lag)
		} else {
			st.missing = append(st.missing, db+" (no slot on the source)")
		}
	}
	var secs float64
	if err := c.QueryRow(ctx, `SELECT coalesce(max(extract(epoch FROM replay_lag)), 0)::float8 FROM pg_stat_replication WHERE application_name LIKE $1`, "cairn_"+runTag(env)+"_%").Scan(&secs); err == nil {
		st.lagSeconds = secs
	}
	return st, nil
}

// guard says why the wait must stop (ok false): a slot of this run lost WAL it still needed, or
// keeps guardShare of limit (bytes; 0: no limit given).
func (w *ReplicationWait) guard(env *steps.Env, st syncState, limit int64) (reason, fix string, ok bool) {
	rollback := fmt.Sprintf("`cairn rollback %s` (the replicate step's rollback drops the subscriptions and slots, freeing the WAL)", env.DescribeRunID())
	for _, name := range sortedKeys(st.slots) {
		s := st.slots[name]
		switch {
		case s.WALStatus == "lost":
			return fmt.Sprintf("replication slot %s lost WAL it still needed (max_slot_wal_keep_size reached): the subscriber can never catch up", name),
				rollback + ", then start the replication again", false
		case limit > 0 && float64(s.Retained) >= guardShare*float64(limit):
			return fmt.Sprintf("replication slot %s keeps %s of WAL on the source: %.0f %% of slot-wal-limit-mb %d MB (max_slot_wal_keep_size); at the limit the server invalidates the slot and the replication must start again — the subscriber is not keeping up",
					name, bytesText(s.Retained), 100*float64(s.Retained)/float64(limit), limit>>20),
				"find out why (the target's log, pg_stat_subscription); " + rollback + "; or raise slot-wal-limit-mb (the parameter-group step sets max_slot_wal_keep_size) when the source's free storage allows, then resume", false
		}
	}
	return "", "", true
}

func (st syncState) caughtUp(maxLag int64) bool {
	return len(st.missing) == 0 && st.ready == st.tables && st.lag <= maxLag
}

// Check says whether the subscribers have caught up, and blocks when a slot of this run is lost or
// keeps guardShare of slot-wal-limit-mb.
func (w *ReplicationWait) Check(ctx context.Context, env *steps.Env) steps.Check {
	maxLag, err := intOf(env, w.MaxLag, 16<<20)
	if err != nil {
		return unknownOr(err, "give max-lag in bytes")
	}
	limit, err := w.limit(env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "give slot-wal-limit-mb in MB (`-p slot-wal-limit-mb=10240`)")
	}
	st, err := w.look(ctx, env)
	if err != nil {
		if isAbsent(err) {
			return steps.CannotTell("%v (an earlier step makes it)", err)
		}
		return unknownOr(err, "check the source's and the target's connections")
	}
	if reason, fix, ok := w.guard(env, st, limit); !ok {
		return steps.BlockedBy(reason, fix)
	}
	if st.caughtUp(maxLag) {
		return steps.AlreadyDone("every table synced (%d), lag %s (%.1f s)", st.tables, bytesText(st.lag), st.lagSeconds)
	}
	return steps.ReadyTo(steps.Read, "wait for the initial copy (%d of %d tables ready) and a lag of at most %s (now %s)", st.ready, st.tables, bytesText(maxLag), bytesText(st.lag))
}

// Apply waits, reporting progress.
func (w *ReplicationWait) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	maxLag, err := intOf(env, w.MaxLag, 16<<20)
	if err != nil {
		return nil, err
	}
	limit, err := w.limit(env)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	var firstLag int64 = -1
	var said time.Time
	for {
		st, err := w.look(ctx, env)
		if err != nil {
			return nil, err
		}
		if reason, fix, ok := w.guard(env, st, limit); !ok {
			return nil, steps.Failed(fix, "%s", reason)
		}
		if len(st.missing) > 0 {
			return nil, steps.Failed("run the replicate step again (roll back to it)", "no subscription or slot of this run for %s: the replication was dropped", strings.Join(st.missing, ", "))
		}
		if st.caughtUp(maxLag) {
			env.Out.Progress(1, 1, "caught up")
			env.Info(fmt.Sprintf("every table synced (%d); lag %s, %.1f s — after %s", st.tables, bytesText(st.lag), st.lagSeconds, time.Since(start).Round(time.Second)))
			return steps.Outputs{}.Set("lag-bytes", strconv.FormatInt(st.lag, 10)).Set("tables", strconv.Itoa(st.tables)), nil
		}
		if st.ready < st.tables {
			env.Out.Progress(float64(st.ready), float64(st.tables), "tables synced")
		} else {
			if firstLag < st.lag {
				firstLag = st.lag
			}
			env.Out.Progress(float64(firstLag-st.lag), float64(firstLag), "bytes of lag caught up")
		}
		if time.Since(said) >= 10*time.Second {
			said = time.Now()
			env.Info(fmt.Sprintf("still waiting for the subscribers: %d of %d tables synced, lag %s (%.1f s) [%s elapsed]", st.ready, st.tables, bytesText(st.lag), st.lagSeconds, time.Since(start).Round(time.Second)))
		}
		if err := sleepCtx(ctx, 500); err != nil {
			return nil, err
		}
	}
}

// OutputNames declares the outputs.
func (w *ReplicationWait) OutputNames() []string { return []string{"lag-bytes", "tables"} }

// Verify: the wait is its own proof.
func (w *ReplicationWait) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo (the replicate step's rollback drops the slots).
func (w *ReplicationWait) Rollback(context.Context, *steps.Env) error { return nil }

// sleepCtx waits ms milliseconds or until ctx ends.
func sleepCtx(ctx context.Context, ms int) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	}
}
