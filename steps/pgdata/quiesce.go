package pgdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Quiesce is the `pg-quiesce` kind: the application must be stopped for a logical copy. It blocks
// new connections of the application roles (every login role but the master and RDS's own:
// CONNECTION LIMIT 0, the previous limits recorded on the server in the same transaction — see
// quiescerecord.go; a role already at 0 without that record is a DBA's and stays at 0), ends their
// sessions, and records the WAL
// position and the user tables' write counters so pg-wal-check can prove later that nothing was
// written after the dump. With Lift it undoes that (the rollback, and the cut-back on a restored
// source, whose snapshot was taken while quiesced).
type Quiesce struct {
	Source Server       `yaml:"source"`
	Lift   bool         `yaml:"lift"`
	State  ref.Template `yaml:"state"` // for Lift: the quiesce's state output (else limits go back to -1)
}

// QuiesceState is what a quiesce recorded.
type QuiesceState struct {
	Limits map[string]int `json:"limits"` // role → previous connection limit
	// Recorded says the limits are also on the server (cairn.quiesce): a lift then trusts only that
	// record, the world's, and never these (a state without it is an older cairn's).
	Recorded bool             `json:"recorded,omitempty"`
	WAL      string           `json:"wal"`
	Writes   map[string]int64 `json:"writes"` // database → inserts+updates+deletes on user tables
	// Source is the server that was quiesced, and RunID the run that did it: a dump is measured
	// against this quiesce only when it is of the same source.
	Source *Identity `json:"source,omitempty"`
	RunID  string    `json:"run_id,omitempty"`
	// At is when the application roles were blocked: where the downtime starts.
	At time.Time `json:"at,omitzero"`
}

// quiesceOf reads the quiesce's state from t; known is false while the quiesce has not run (a
// plan), and a zero state with known true means no quiesce was given.
func quiesceOf(env *steps.Env, t ref.Template) (QuiesceState, bool, error) {
	var st QuiesceState
	if t.IsZero() {
		return st, true, nil
	}
	s, err := env.OptionalText(t)
	if errors.Is(err, ref.ErrUnknown) {
		return st, false, nil
	}
	if err != nil || s == "" {
		return st, true, err
	}
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return st, true, fmt.Errorf("the quiesce's record is not readable: %w", err)
	}
	return st, true, nil
}

// OutputNames declares the outputs.
func (q *Quiesce) OutputNames() []string { return []string{"state", "wal-lsn", "roles", "lift-sql"} }

// Describe lists the statements.
func (q *Quiesce) Describe(env *steps.Env) []steps.Action {
	t := q.Source.describe(env)
	if q.Lift {
		return []steps.Action{{Kind: steps.ActSQL, Target: t, Text: "ALTER ROLE <each application role> CONNECTION LIMIT <its limit before the quiesce>"}}
	}
	return []steps.Action{
		{Kind: steps.ActSQL, Target: t, Text: "SELECT rolname, rolconnlimit FROM pg_roles WHERE rolcanlogin AND rolname <> current_user AND <not RDS-owned>"},
		{Kind: steps.ActSQL, Target: t, Text: "ALTER ROLE <each application role> CONNECTION LIMIT 0"},
		{Kind: steps.ActSQL, Target: t, Text: "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename IN (<application roles>)"},
		{Kind: steps.ActSQL, Target: t, Text: "SELECT pg_current_wal_insert_lsn();  -- where WAL is being inserted now (not just written); and per database: sum(n_tup_ins + n_tup_upd + n_tup_del) FROM pg_stat_user_tables"},
	}
}

func appRoles(ctx context.Context, c *pgx.Conn) (map[string]int, error) {
	rows, err := c.Query(ctx, `SELECT rolname, rolconnlimit FROM pg_roles WHERE rolcanlogin AND rolname <> current_user
		AND rolname <> 'rdsadmin' AND rolname NOT LIKE 'rds\_%' AND rolname NOT LIKE 'rdsrepl%' AND rolname NOT LIKE 'pg\_%' AND NOT rolsuper`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var r string
		var l int
		if err := rows.Scan(&r, &l); err != nil {
			return nil, err
		}
		out[r] = l
	}
	return out, rows.Err()
}

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Check says whether the application roles are blocked (or, lifting, whether any still is).
func (q *Quiesce) Check(ctx context.Context, env *steps.Env) steps.Check {
	src, err := q.Source.resolve(ctx, env)
	if err != nil {
		if q.Lift && isInstanceMissing(err) {
			return steps.AlreadyDone("%v: nothing to lift", err)
		}
		return unknownOr(err, "check the source's connection and credentials")
	}
	c, err := src.connect(ctx, recordDB)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the source's connection and credentials")
	}
	defer c.Close(context.WithoutCancel(ctx))
	roles, err := appRoles(ctx, c)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	rec, err := readBlocked(ctx, c)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if q.Lift {
		lift, left := q.toLift(env, roles, rec)
		if len(lift) == 0 {
			return steps.AlreadyDone("no role is blocked by a quiesce%s", dbaZeroNote(left))
		}
		return steps.ReadyTo(steps.Update, "let %s connect again%s", strings.Join(sortedKeys(lift), ", "), dbaZeroNote(left))
	}
	s := splitRoles(roles, rec)
	switch {
	case len(s.toBlock) == 0 && len(s.blocked) > 0:
		return steps.AlreadyDone("all %d application roles are blocked (%s), their limits before recorded on the server%s", len(s.blocked), strings.Join(sortedKeys(s.blocked), ", "), dbaZeroNote(s.dbaZero))
	case len(s.toBlock) == 0 && len(s.dbaZero) > 0:
		return steps.AlreadyDone("no application role to block%s", dbaZeroNote(s.dbaZero))
	}
	return steps.ReadyTo(steps.Update, "block %d application roles (%s), end their sessions, record the WAL position%s", len(s.toBlock), strings.Join(sortedKeys(s.toBlock), ", "), dbaZeroNote(s.dbaZero))
}

// toLift is what a lift puts back (role → its limit before the quiesce) among the roles at 0, and
// the roles at 0 it leaves (no record that a quiesce blocked them).
func (q *Quiesce) toLift(env *steps.Env, roles map[string]int, rec map[string]blockedRole) (lift map[string]int, left []string) {
	var st QuiesceState
	if s, err := env.OptionalText(q.State); err == nil && s != "" {
		_ = json.Unmarshal([]byte(s), &st)
	}
	lift = map[string]int{}
	for _, r := range sortedKeys(roles) {
		if roles[r] != 0 {
			continue
		}
		if b, ok := rec[r]; ok {
			lift[r] = b.Previous
		} else if l, ok := st.Limits[r]; ok && !st.Recorded && l != 0 {
			lift[r] = l // an older cairn's quiesce, which kept its record in the journal only
		} else {
			left = append(left, r)
		}
	}
	return lift, left
}

// Apply quiesces (or lifts).
func (q *Quiesce) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	src, c, roles, err := q.open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if q.Lift {
		return nil, q.lift(ctx, env, c, roles)
	}
	rec, err := readBlocked(ctx, c)
	if err != nil {
		return nil, err
	}
	s := splitRoles(roles, rec)
	// The record is written, with the limits before, in the transaction that blocks the roles;
	// roles found blocked by an interrupted quiesce keep the limits their record holds.
	if err := block(ctx, c, s.toBlock, env.RunID); err != nil {
		return nil, err
	}
	st := QuiesceState{Limits: s.toBlock, Recorded: true, Writes: map[string]int64{}, At: time.Now().UTC()}
	for r, b := range s.blocked {
		st.Limits[r] = b.Previous
	}
	// The sessions of a role the DBA had at 0 end too: it cannot come back, and a write of its
	// would be lost with the old instance.
	var ended int
	if err := c.QueryRow(ctx, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE usename = ANY($1)", sortedKeys(roles)).Scan(&ended); err != nil {
		return nil, fmt.Errorf("end application sessions: %w", err)
	}
	env.Info(fmt.Sprintf("blocked %s (limits before recorded in cairn.quiesce on the server); ended %d sessions%s", strings.Join(sortedKeys(st.Limits), ", "), ended, dbaZeroNote(s.dbaZero)))
	outs, err := st.outputs(ctx, env, src, c, st.Limits)
	if err != nil {
		return nil, err
	}
	env.Info("WAL position recorded: " + st.WAL + " on " + st.Source.String())
	return outs, nil
}

// open resolves the source, connects to it and reads its application roles (name → connection
// limit). The caller closes c.
func (q *Quiesce) open(ctx context.Context, env *steps.Env) (src dsn, c *pgx.Conn, roles map[string]int, err error) {
	if src, err = q.Source.resolve(ctx, env); err != nil {
		return src, nil, nil, err
	}
	if c, err = src.connect(ctx, recordDB); err != nil {
		return src, nil, nil, err
	}
	if roles, err = appRoles(ctx, c); err != nil {
		c.Close(context.WithoutCancel(ctx))
		return src, nil, nil, err
	}
	return src, c, roles, nil
}

// outputs completes the state with the WAL position and the source's identity, and gives it as the
// step's outputs.
func (st *QuiesceState) outputs(ctx context.Context, env *steps.Env, src dsn, c *pgx.Conn, roles map[string]int) (steps.Outputs, error) {
	var err error
	if st.WAL, st.Writes, err = position(ctx, src, c); err != nil {
		return nil, err
	}
	if err := st.identify(ctx, env, src, c); err != nil {
		return nil, err
	}
	b, _ := json.Marshal(st)
	return steps.Outputs{}.Set("state", string(b)).Set("wal-lsn", st.WAL).Set("roles", strings.Join(sortedKeys(roles), ",")).Set("lift-sql", st.liftSQL()), nil
}

// liftSQL is what lets the blocked roles in again by hand, as the master, on the source or on an
// instance restored from a snapshot taken while quiesced (which also carries the record).
func (st *QuiesceState) liftSQL() string {
	if len(st.Limits) == 0 {
		return "-- no role was blocked by the quiesce"
	}
	var b strings.Builder
	for _, r := range sortedKeys(st.Limits) {
		fmt.Fprintf(&b, "ALTER ROLE %s CONNECTION LIMIT %d; ", ident(r), st.Limits[r])
	}
	b.WriteString("DROP TABLE IF EXISTS cairn.quiesce; DROP SCHEMA IF EXISTS cairn;   -- in database " + recordDB)
	return b.String()
}

// position reads the source's WAL insert position and, per database, the write counters of its
// user tables (sum of inserts, updates and deletes).
func position(ctx context.Context, src dsn, c *pgx.Conn) (string, map[string]int64, error) {
	if _, err := c.Exec(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
		return "", nil, err
	}
	wal, err := walPosition(ctx, c)
	if err != nil {
		return "", nil, err
	}
	writes, err := writeCounts(ctx, src, c)
	return wal, writes, err
}

// writeCounts reads every database's user-table write counters, all databases at once (one
// connection each: a TLS handshake and an authentication apiece against RDS).
func writeCounts(ctx context.Context, src dsn, c *pgx.Conn) (map[string]int64, error) {
	dbs, err := databases(ctx, c)
	if err != nil {
		return nil, err
	}
	n := make([]int64, len(dbs))
	var jobs []func() error
	for i, db := range dbs {
		jobs = append(jobs, func() error {
			dc, err := src.connect(ctx, db)
			if err != nil {
				return err
			}
			defer dc.Close(context.WithoutCancel(ctx))
			return dc.QueryRow(ctx, "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)::bigint FROM pg_stat_user_tables").Scan(&n[i])
		})
	}
	if err := parallel(jobs...); err != nil {
		return nil, err
	}
	writes := map[string]int64{}
	for i, db := range dbs {
		writes[db] = n[i]
	}
	return writes, nil
}

// lift puts back the limits of the roles a quiesce blocked, as the server's record (or an older
// cairn's state) holds them, and deletes the record; a role at 0 without one stays at 0.
func (q *Quiesce) lift(ctx context.Context, env *steps.Env, c *pgx.Conn, roles map[string]int) error {
	rec, err := readBlocked(ctx, c)
	if err != nil {
		return err
	}
	lift, left := q.toLift(env, roles, rec)
	if err := unblock(ctx, c, lift); err != nil {
		return err
	}
	for _, r := range sortedKeys(lift) {
		env.Info(fmt.Sprintf("%s may connect again (limit %d, as before the quiesce)", r, lift[r]))
	}
	if len(left) > 0 {
		env.Info(strings.TrimPrefix(dbaZeroNote(left), "; "))
	}
	return nil
}

// Observe re-reads the position when the quiesce is found done.
func (q *Quiesce) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	if q.Lift {
		return nil, nil
	}
	src, c, roles, err := q.open(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	rec, err := readBlocked(ctx, c)
	if err != nil {
		return nil, err
	}
	st := QuiesceState{Limits: map[string]int{}, Recorded: true}
	for r, b := range splitRoles(roles, rec).blocked {
		st.Limits[r] = b.Previous
	}
	return st.outputs(ctx, env, src, c, st.Limits)
}

// identify records which source was quiesced, by which run.
func (st *QuiesceState) identify(ctx context.Context, env *steps.Env, src dsn, c *pgx.Conn) error {
	id, err := src.identify(ctx, c)
	if err != nil {
		return err
	}
	st.Source, st.RunID = &id, env.RunID
	return nil
}

// Verify proves the roles are blocked (or free again).
func (q *Quiesce) Verify(ctx context.Context, env *steps.Env) error {
	if ch := q.Check(ctx, env); ch.State != steps.Done {
		return &steps.VerifyError{What: "application roles", Expected: map[bool]string{true: "free", false: "blocked"}[q.Lift], Found: ch.Reason}
	}
	return nil
}

// Rollback lifts the quiesce (or, for a lift, does nothing).
func (q *Quiesce) Rollback(ctx context.Context, env *steps.Env) error {
	if q.Lift {
		return nil
	}
	l := &Quiesce{Source: q.Source, Lift: true, State: ref.MustParse("${steps." + baseID(env.StepID) + ".state}")}
	_, err := l.Apply(ctx, env)
	return err
}

func baseID(key string) string {
	id, _, _ := strings.Cut(key, "[")
	return id
}

// WALCheck is the `pg-wal-check` kind: before the old instance goes, it proves nothing was written
// to the source after the quiesce: the WAL position is where the quiesce recorded it — or, when the
// server's own housekeeping moved it (RDS writes a heartbeat), no user table counts a write since.
type WALCheck struct {
	Source Server       `yaml:"source"`
	State  ref.Template `yaml:"state"`
}

// Describe lists the queries.
func (w *WALCheck) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActSQL, Target: w.Source.describe(env), Text: "SELECT pg_current_wal_insert_lsn();  -- must equal the quiesce's, else per database: sum(n_tup_ins + n_tup_upd + n_tup_del) unchanged"}}
}

// Check is ready to read.
func (w *WALCheck) Check(ctx context.Context, env *steps.Env) steps.Check {
	return steps.ReadyTo(steps.Read, "compare the source's WAL position with the quiesce's record")
}

// Apply compares.
func (w *WALCheck) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	s, err := env.Text(w.State)
	if err != nil {
		return nil, err
	}
	var st QuiesceState
	if err := json.Unmarshal([]byte(s), &st); err != nil {
		return nil, fmt.Errorf("the quiesce's record is not readable: %w", err)
	}
	src, err := w.Source.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if st.Source != nil {
		live, err := src.identify(ctx, c)
		if err != nil {
			return nil, err
		}
		if diff := otherSource(*st.Source, live); len(diff) > 0 {
			return nil, steps.Failed("check the step's source", "%s is not the server that was quiesced (%s): the quiesce was of %s — nothing can be proved about the source from here", live.Label, strings.Join(diff, "; "), st.Source)
		}
	}
	wal, err := walPosition(ctx, c)
	if err != nil {
		return nil, err
	}
	if wal == st.WAL {
		// nothing was written: the write counters are not read (a connection per database)
		env.Info("WAL position unchanged since the quiesce: " + wal)
		return nil, nil
	}
	writes, err := writeCounts(ctx, src, c)
	if err != nil {
		return nil, err
	}
	var moved []string
	for db, n := range writes {
		if n != st.Writes[db] {
			moved = append(moved, fmt.Sprintf("%s: %d writes to user tables since the quiesce", db, n-st.Writes[db]))
		}
	}
	if len(moved) > 0 {
		sort.Strings(moved)
		return nil, steps.Failed("stop the writer, then redo the dump and restore (roll back to the quiesce)", "the source was written to after the dump (WAL %s → %s): %s — those writes are not in the new instance", st.WAL, wal, strings.Join(moved, "; "))
	}
	// The counters are only trustworthy once every writer has gone: a backend that is still
	// connected flushes its table statistics seconds after it writes, so a fresh write can hide.
	others, err := otherSessions(ctx, c)
	if err != nil {
		return nil, err
	}
	if len(others) > 0 {
		return nil, steps.Failed("end them (SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE …), then retry this step", "the WAL moved since the quiesce (%s → %s) and sessions are still connected to the source (%s): their writes may not be counted yet, so cairn cannot prove nothing was written", st.WAL, wal, strings.Join(others, "; "))
	}
	env.Info(fmt.Sprintf("WAL moved %s → %s, but no user table was written and no other session is connected (server housekeeping)", st.WAL, wal))
	return nil, nil
}

// Verify repeats the comparison without saying its finding again (the apply said it; a failure
// says why).
func (w *WALCheck) Verify(ctx context.Context, env *steps.Env) error {
	quiet := *env
	quiet.Out = nil
	_, err := w.Apply(ctx, &quiet)
	return err
}

// Rollback has nothing to undo.
func (w *WALCheck) Rollback(ctx context.Context, env *steps.Env) error { return nil }

// otherSessions lists client sessions on the server other than cairn's own and the provider's
// (rdsadmin), as "role@database (n)".
func otherSessions(ctx context.Context, c *pgx.Conn) ([]string, error) {
	rows, err := c.Query(ctx, `SELECT coalesce(usename, '?') || '@' || coalesce(datname, '?') || ' (' || count(*) || ')'
		FROM pg_stat_activity
		WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
		  AND coalesce(application_name, '') <> 'cairn' AND coalesce(usename, '') <> 'rdsadmin'
		GROUP BY usename, datname ORDER BY 1`)
	if err != nil {
		return nil, fmt.Errorf("list the sessions on the source: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
