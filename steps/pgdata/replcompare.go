package pgdata

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// ReplicationCompare is the `pg-replication-compare` kind: the replicate strategy's comparison
// before the window, while the application still writes. Per database, both sides at once, it
// reads:
//
//  1. every user table's state — its write counters (pg_stat_user_tables n_tup_ins, n_tup_upd,
//     n_tup_del: every attempted write counts, committed or not) and its file (pg_class
//     relfilenode and the xmin of its pg_class row: a TRUNCATE or a rewrite moves them) — and a
//     catalog fingerprint: per schema-bearing catalog, its row count and an md5 of its rows' xmins
//     (any DDL inserts or updates a row; ANALYZE and VACUUM update pg_class in place, so they do
//     not move it);
//  2. then every table's row count (and md5 with Checksums), each database under one snapshot;
//  3. then the schemas (`pg_dump --schema-only`, both sides).
//
// A schema difference fails here, before the window, with the fix: nothing has changed yet. A
// count difference is not a failure (the table is being written, the target lags): it is listed as
// in flux, recounted in the window. Everything is kept in the run's work directory with the run's
// id and both servers' identity (resource id, system identifier, database OIDs), and the record's
// path is the step's output: the cut-over recounts only the tables whose state moved since (and
// dumps the schemas only when a fingerprint moved). It reads only; re-running it refreshes the
// baseline, which is what the window wants just before it opens.
type ReplicationCompare struct {
	Source    Server       `yaml:"source"`
	Target    Server       `yaml:"target"`
	Checksums ref.Template `yaml:"checksums"`
}

// OutputNames declares the outputs.
func (r *ReplicationCompare) OutputNames() []string {
	return []string{"baseline", "tables", "in-flux"}
}

// tableStateSQL reads every user table's state: its write counters and its file.
const tableStateSQL = `SELECT n.nspname || '.' || c.relname, coalesce(s.n_tup_ins, 0), coalesce(s.n_tup_upd, 0), coalesce(s.n_tup_del, 0),
		c.relfilenode, c.xmin::text
	FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
	WHERE ` + userTable

// fingerprinted are the catalogs whose rows make a database's schema. Left out: what data and
// maintenance write (pg_statistic*, pg_largeobject*), what the replication itself writes
// (pg_publication*, pg_subscription_rel), the shared catalogs (roles, databases: not in pg_dump of
// a database) and pg_user_mapping, which only a superuser may read (an RDS master is not one).
var fingerprinted = []string{"pg_class", "pg_attribute", "pg_attrdef", "pg_constraint", "pg_index", "pg_namespace",
	"pg_type", "pg_proc", "pg_trigger", "pg_rewrite", "pg_policy", "pg_extension", "pg_sequence", "pg_inherits",
	"pg_enum", "pg_default_acl", "pg_description", "pg_depend", "pg_aggregate", "pg_am", "pg_amop", "pg_amproc",
	"pg_cast", "pg_collation", "pg_conversion", "pg_event_trigger", "pg_foreign_data_wrapper", "pg_foreign_server",
	"pg_foreign_table", "pg_init_privs", "pg_language", "pg_opclass", "pg_operator", "pg_opfamily",
	"pg_partitioned_table", "pg_range", "pg_seclabel", "pg_statistic_ext", "pg_transform", "pg_ts_config",
	"pg_ts_config_map", "pg_ts_dict", "pg_ts_parser", "pg_ts_template"}

// fingerprintSQL is one line per catalog: its name, row count and the md5 of its rows' sorted xmins.
var fingerprintSQL = func() string {
	var parts []string
	for _, c := range fingerprinted {
		parts = append(parts, fmt.Sprintf("SELECT '%s' || ':' || count(*) || ':' || coalesce(md5(string_agg(xmin::text, ',' ORDER BY xmin::text)), '') FROM pg_catalog.%s", c, c))
	}
	return "SELECT string_agg(x, ' ') FROM (" + strings.Join(parts, "\nUNION ALL ") + ") f(x)"
}()

// Describe lists the statements.
func (r *ReplicationCompare) Describe(env *steps.Env) []steps.Action {
	src, tgt := r.Source.describe(env), r.Target.describe(env)
	sum := map[bool]string{true: " and md5 of its rows", false: ""}[describesOn(env, r.Checksums)]
	return []steps.Action{
		{Kind: steps.ActSQL, Target: src + " and " + tgt, Text: "SELECT system_identifier FROM pg_control_system(); SELECT datname, oid FROM pg_database   -- both servers' identity, kept with the record"},
		{Kind: steps.ActSQL, Target: src + " and " + tgt, Text: "-- per database, both sides at once, first the state:\n" + tableStateSQL + ";\n" +
			"SELECT '<catalog>:' || count(*) || ':' || md5(string_agg(xmin::text, ',' ORDER BY xmin::text)) FROM <each of " + strings.Join(fingerprinted, ", ") + ">"},
		{Kind: steps.ActSQL, Target: src + " and " + tgt, Text: "-- then, one REPEATABLE READ snapshot per database and side:\nSELECT count(*)" + sum + " FROM ONLY <each user table>; SELECT count(*) FROM pg_largeobject_metadata   -- a difference is in flux (written, lagging): recounted in the window"},
		{Kind: steps.ActExec, Target: src + " and " + tgt, Text: "pg_dump --schema-only --no-publications --no-subscriptions <db>   -- both sides; a difference fails here, before the window"},
		{Kind: steps.ActFile, Target: "local", Text: "<run's work directory>/pgdata-<step>-baseline.json   -- run id, both identities, per table state, count (and md5), per database fingerprints: the cut-over's baseline"},
	}
}

// Check is ready to read: re-running it refreshes the baseline.
func (r *ReplicationCompare) Check(ctx context.Context, env *steps.Env) steps.Check {
	return steps.ReadyTo(steps.Read, "read every table's write counters and file and the catalogs' fingerprints, count every table and compare the schemas on both sides — the cut-over's baseline")
}

// tableState is what says a table has not been written since: its write counters (every
// attempted insert, update and delete) and its file (a TRUNCATE or a rewrite gives it a new one and
// a new pg_class row).
type tableState struct {
	Ins, Upd, Del int64
	Filenode      uint32
	Xmin          string
}

// sideState is one database's state on one server: its tables' and its catalogs' fingerprint.
type sideState struct {
	Tables   map[string]tableState `json:"tables"`
	Catalogs string                `json:"catalogs"`
}

// readState reads the state of the database c is connected to (each query its own transaction:
// the statistics as they stand now).
func readState(ctx context.Context, c *pgx.Conn) (sideState, error) {
	st := sideState{Tables: map[string]tableState{}}
	rows, err := c.Query(ctx, tableStateSQL)
	if err != nil {
		return st, fmt.Errorf("read the tables' write counters: %w", err)
	}
	for rows.Next() {
		var k string
		var s tableState
		if err := rows.Scan(&k, &s.Ins, &s.Upd, &s.Del, &s.Filenode, &s.Xmin); err != nil {
			rows.Close()
			return st, err
		}
		st.Tables[k] = s
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return st, err
	}
	if err := c.QueryRow(ctx, fingerprintSQL).Scan(&st.Catalogs); err != nil {
		return st, fmt.Errorf("read the catalogs' fingerprint: %w", err)
	}
	return st, nil
}

// sideBaseline is one database on one server as the comparison found it: the state read first,
// then the counts.
type sideBaseline struct {
	sideState
	Rows map[string]int64  `json:"rows"`
	Sums map[string]string `json:"sums,omitempty"`
}

// baseline is the comparison's record: what the cut-over may trust as unchanged since.
type baseline struct {
	path      string
	RunID     string                             `json:"run_id"`
	At        time.Time                          `json:"at"`
	Checksums bool                               `json:"checksums"`
	Source    Identity                           `json:"source"`
	Target    Identity                           `json:"target"`
	DBs       map[string]map[string]sideBaseline `json:"databases"` // db → "source"/"target" → …
}

// readBaseline reads the comparison's record at path ("" or missing: none).
func readBaseline(path string) (*baseline, bool, error) {
	b := &baseline{}
	if path == "" {
		return b, false, nil
	}
	found, err := readRecord(path, "the comparison's baseline", b)
	b.path = path
	return b, found, err
}

// identities reads both servers' identity.
func identities(ctx context.Context, src, tgt dsn) (Identity, Identity, error) {
	var ids [2]Identity
	err := parallel(func() error { return serverIdentity(ctx, src, &ids[0]) }, func() error { return serverIdentity(ctx, tgt, &ids[1]) })
	return ids[0], ids[1], err
}

func serverIdentity(ctx context.Context, d dsn, id *Identity) error {
	c, err := d.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	*id, err = d.identify(ctx, c)
	return err
}

// Apply reads both sides' state, counts, compares the schemas and keeps the baseline.
func (r *ReplicationCompare) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	src, dbs, _, err := sourceDatabases(ctx, env, r.Source)
	if err != nil {
		return nil, err
	}
	tgt, err := r.Target.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	checksums, err := env.Flag(r.Checksums)
	if err != nil {
		return nil, err
	}
	rec := &baseline{RunID: env.RunID, Checksums: checksums, At: time.Now().UTC(), DBs: map[string]map[string]sideBaseline{}}
	if rec.path, _, err = workRecord(env, "baseline", "the comparison's baseline", &baseline{}); err != nil {
		return nil, err
	}
	if rec.Source, rec.Target, err = identities(ctx, src, tgt); err != nil {
		return nil, err
	}
	read := make([][2]sideBaseline, len(dbs))
	var jobs []func() error
	for i, db := range dbs {
		for s, d := range []dsn{src, tgt} {
			jobs = append(jobs, func() error {
				c, err := d.connect(ctx, db)
				if err != nil {
					return err
				}
				defer c.Close(context.WithoutCancel(ctx))
				if read[i][s].sideState, err = readState(ctx, c); err != nil {
					return fmt.Errorf("%s database %s: %w", d.Label, db, err)
				}
				read[i][s].Rows, read[i][s].Sums, err = countOn(ctx, c, d, db, checksums, nil)
				return err
			})
		}
	}
	if err := parallel(jobs...); err != nil {
		return nil, err
	}
	var flux []string
	tables := 0
	for i, db := range dbs {
		rec.DBs[db] = map[string]sideBaseline{"source": read[i][0], "target": read[i][1]}
		tables += len(read[i][0].Rows)
		flux = append(flux, compare(Database{Name: db, Rows: read[i][0].Rows, Checksums: read[i][0].Sums}, read[i][1].Rows, read[i][1].Sums)...)
	}
	if err := compareSchemas(ctx, env, src, tgt, dbs); err != nil {
		return nil, fmt.Errorf("before the window — nothing was changed, the application still runs: %w", err)
	}
	if err := saveRecord(rec.path, rec); err != nil {
		return nil, err
	}
	if len(flux) == 0 {
		env.Info(fmt.Sprintf("rows: %d tables, %s on both sides at %s", tables, equalWhat(checksums), rec.At.Format(time.TimeOnly)+"Z"))
	} else {
		env.Info(fmt.Sprintf("rows: %d of %d tables in flux (being written, or the target lags), recounted in the window:\n%s", len(flux), tables, strings.Join(flux, "\n")))
	}
	return steps.Outputs{"in-flux": {List: flux}}.Set("baseline", rec.path).Set("tables", strconv.Itoa(tables)), nil
}

// countOn counts (and hashes) the tables only accepts (nil: all) of database db on c, under one
// REPEATABLE READ snapshot.
func countOn(ctx context.Context, c *pgx.Conn, d dsn, db string, checksums bool, only func(string) bool) (map[string]int64, map[string]string, error) {
	tx, err := c.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	rows, sums, err := countTablesIn(ctx, tx.Conn(), checksums, only)
	if err != nil {
		return nil, nil, fmt.Errorf("%s database %s: %w", d.Label, db, err)
	}
	return rows, sums, nil
}

// Verify: the comparison is its apply, and its record is kept.
func (r *ReplicationCompare) Verify(ctx context.Context, env *steps.Env) error {
	path, found, err := workRecord(env, "baseline", "the comparison's baseline", &baseline{})
	if err != nil || (path != "" && !found) {
		return &steps.VerifyError{What: "the comparison's baseline", Expected: "this run's record in the work directory", Found: fmt.Sprint("none ", err)}
	}
	return nil
}

// Rollback has nothing to undo (the record is only a baseline: the cut-over checks it).
func (r *ReplicationCompare) Rollback(context.Context, *steps.Env) error { return nil }
