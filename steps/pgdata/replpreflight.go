package pgdata

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// ReplicationPreflight is the `pg-replication-preflight` kind: before anything of the replicate
// strategy changes, it reads the source (and the target, once there is one) and answers with every
// refusal at once, each with its fix, and the warnings the engineer must know:
//
//   - refused: a server older than PostgreSQL 10 (no native logical replication); unlogged tables
//     (never written to WAL, so never replicated: their rows would be lost at the swap); when a
//     target is given, extensions of the source it does not offer, or only older (without one —
//     the runbook's case: the target does not exist yet — the extensions the target must offer are
//     listed, and pg-replicate compares them before it creates anything); a source that is not an
//     RDS instance and whose wal_level is not logical (on RDS the parameter-group step turns it
//     on); a login role the new instance would have without a password (not in passwords-secret,
//     not the master, not in rds_iam or rds_ad: its application could not log in after the swap);
//     keep-identifier (the replicate strategy needs both instances until the swap); a
//     slot-wal-limit-mb under 1 MB (unlimited: a stalled slot would keep WAL until the disk fills);
//   - listed, fixed by the next step: tables with no primary key and no usable replica identity —
//     published as they are, their UPDATEs and DELETEs would fail *on the source*; the
//     `pg-replica-identity` step sets REPLICA IDENTITY FULL on them, confirmed and reversible;
//   - warned: large objects are not replicated — cairn copies them at the cut-over, inside the
//     window, which grows with their size; DDL is not replicated — a schema change during
//     replication fails the cut-over's schema comparison; max_slot_wal_keep_size unlimited — a
//     stalled slot keeps WAL until the disk fills (the sync wait watches it); an extension the
//     source's own server no longer offers, or installed at another version than a CREATE
//     EXTENSION makes (the restore creates the target's default version).
//
// It reads only.
type ReplicationPreflight struct {
	Source         Server       `yaml:"source"`
	Target         Server       `yaml:"target"`
	KeepIdentifier ref.Template `yaml:"keep-identifier"`
	// SlotWALLimitMB is the runbook's slot-wal-limit-mb (max_slot_wal_keep_size, which the sync wait
	// guards at 80 %): refused here, before the parameter group is changed, unless 1 MB or more.
	SlotWALLimitMB ref.Template `yaml:"slot-wal-limit-mb"`
	// PasswordsSecret gives the passwords of the login roles ({"role": "password"}): pg_dumpall
	// cannot read them on RDS, and a login role the new instance would have without one is refused.
	PasswordsSecret ref.Template `yaml:"passwords-secret"`
}

// OutputNames declares the outputs.
func (p *ReplicationPreflight) OutputNames() []string {
	return []string{"no-identity", "large-objects", "warnings"}
}

// Describe lists the queries.
func (p *ReplicationPreflight) Describe(env *steps.Env) []steps.Action {
	src := p.Source.describe(env)
	acts := []steps.Action{
		{Kind: steps.ActSQL, Target: src, Text: "SHOW server_version_num; SHOW wal_level; SHOW max_slot_wal_keep_size;  -- PostgreSQL 10 or later; logical decoding"},
		{Kind: steps.ActSQL, Target: src, Text: "-- per database (every connectable one but templates, postgres and rdsadmin):\n" +
			"SELECT … FROM pg_class WHERE relkind IN ('r','p') AND relpersistence = 'u'   -- unlogged: refused\n" +
			"SELECT … FROM pg_class WHERE relkind = 'r' AND (relreplident = 'n' OR relreplident = 'd' AND no primary key OR relreplident = 'i' AND no valid index)   -- listed, fixed by pg-replica-identity\n" +
			"SELECT count(*) FROM pg_largeobject_metadata   -- copied at the cut-over\n" +
			"SELECT e.extname, e.extversion, a.default_version FROM pg_extension e LEFT JOIN pg_available_extensions a ON a.name = e.extname"},
	}
	acts = append(acts, passwordsAction(env, p.Source, p.PasswordsSecret))
	if p.Target.given() {
		acts = append(acts, steps.Action{Kind: steps.ActSQL, Target: p.Target.describe(env), Text: "SHOW server_version_num; SELECT name, version FROM pg_available_extension_versions  -- every extension of the source offered at its version or newer"})
	}
	return acts
}

// replFindings is what the preflight read.
type replFindings struct {
	refusals, fixes, warnings []string
	noIdentity                []string // db:schema.table
	largeObjects              int64
}

func (p *ReplicationPreflight) read(ctx context.Context, env *steps.Env) (replFindings, error) {
	var f replFindings
	if k, err := env.OptionalText(p.KeepIdentifier); err == nil && isTrueText(k) {
		f.refusals = append(f.refusals, "keep-identifier=true: the replicate strategy keeps the source running until the swap, so the new instance cannot take its identifier before")
		f.fixes = append(f.fixes, "run without keep-identifier (the names are swapped at the cut-over)")
	}
	if lim, err := env.OptionalText(p.SlotWALLimitMB); err != nil {
		return f, err
	} else if strings.TrimSpace(lim) != "" {
		if _, err := walLimitBytes(lim); err != nil {
			f.refusals = append(f.refusals, err.Error())
			f.fixes = append(f.fixes, "give slot-wal-limit-mb in MB, e.g. `-p slot-wal-limit-mb=10240` (within the source's free storage)")
		}
	}
	src, err := p.Source.resolve(ctx, env)
	if err != nil {
		return f, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return f, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var vnum, level, keep string
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num'), current_setting('wal_level'), coalesce(current_setting('max_slot_wal_keep_size', true), '-1')").Scan(&vnum, &level, &keep); err != nil {
		return f, fmt.Errorf("read %s's version: %w", src.Label, err)
	}
	if n, _ := strconv.Atoi(vnum); n < 100000 {
		f.refusals = append(f.refusals, fmt.Sprintf("%s runs PostgreSQL %s: native logical replication needs 10 or later", src.Label, vnum))
		f.fixes = append(f.fixes, "upgrade the source's major version first, or use strategy=logical or snapshot-copy")
	}
	switch {
	case level == "logical":
	case src.Instance != "":
		f.warnings = append(f.warnings, fmt.Sprintf("wal_level is %s on %s: the parameter-group step sets rds.logical_replication=1 and the reboot step applies it (a short outage: do it before the window)", level, src.Label))
	default:
		f.refusals = append(f.refusals, fmt.Sprintf("wal_level is %s on %s, not logical", level, src.Label))
		f.fixes = append(f.fixes, "ALTER SYSTEM SET wal_level = logical; then restart the server (before the window)")
	}
	if keep == "-1" || keep == "" {
		f.warnings = append(f.warnings, "max_slot_wal_keep_size is unlimited: a stalled replication slot keeps WAL until the source's disk fills — the sync wait stops at its retained-WAL limit; `cairn rollback` drops the slot")
	}
	if problem, fix, err := passwordFindings(ctx, env, c, p.Source.Region, p.PasswordsSecret); err != nil {
		return f, err
	} else if problem != "" {
		f.refusals = append(f.refusals, problem)
		f.fixes = append(f.fixes, fix)
	}
	dbs, err := databases(ctx, c)
	if err != nil {
		return f, err
	}
	for _, db := range dbs {
		if err := readDatabase(ctx, src, db, &f); err != nil {
			return f, err
		}
	}
	exts, err := sourceExtensions(ctx, src, dbs)
	if err != nil {
		return f, err
	}
	if f.largeObjects > 0 {
		f.warnings = append(f.warnings, fmt.Sprintf("%d large objects: not replicated — cairn copies them at the cut-over, under the quiesce, so the window grows with them", f.largeObjects))
	}
	if len(f.noIdentity) > 0 {
		f.warnings = append(f.warnings, fmt.Sprintf("%d tables have no primary key and no usable replica identity (%s): published as they are, their UPDATEs and DELETEs would fail on the source — the replica-identity step sets REPLICA IDENTITY FULL on them (confirmed; its rollback puts DEFAULT back)", len(f.noIdentity), strings.Join(f.noIdentity, ", ")))
	}
	f.warnings = append(f.warnings, "DDL is not replicated: change no schema on the source until the cut-over (its schema comparison fails otherwise, and the swap does not happen)")
	if p.Target.given() {
		if err := p.readTarget(ctx, env, exts, &f); err != nil {
			return f, err
		}
	} else {
		f.warnings = append(f.warnings, sourceNotes(exts)...)
	}
	return f, nil
}

// readDatabase reads one source database's tables and large objects.
func readDatabase(ctx context.Context, src dsn, db string, f *replFindings) error {
	c, err := src.connect(ctx, db)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	unlogged, err := names(ctx, c, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND c.relpersistence = 'u' ORDER BY 1`)
	if err != nil {
		return err
	}
	for _, t := range unlogged {
		f.refusals = append(f.refusals, fmt.Sprintf("%s: table %s is UNLOGGED — never written to WAL, so never replicated; its rows would be lost at the swap", db, t))
		f.fixes = append(f.fixes, fmt.Sprintf("in %s: ALTER TABLE %s SET LOGGED (or drop it if it holds nothing to keep)", db, t))
	}
	noID, err := tablesWithoutIdentity(ctx, c)
	if err != nil {
		return err
	}
	for _, t := range noID {
		f.noIdentity = append(f.noIdentity, db+":"+t)
	}
	var n int64
	if err := c.QueryRow(ctx, "SELECT count(*) FROM pg_largeobject_metadata").Scan(&n); err != nil {
		return fmt.Errorf("%s: count large objects: %w", db, err)
	}
	f.largeObjects += n
	return nil
}

// tablesWithoutIdentity lists the ordinary tables (not partitioned parents, which hold no rows)
// whose UPDATEs and DELETEs a publication could not carry: replica identity NOTHING, DEFAULT
// without a primary key, or INDEX whose index is gone or not valid.
func tablesWithoutIdentity(ctx context.Context, c *pgx.Conn) ([]string, error) {
	return names(ctx, c, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind = 'r' AND c.relpersistence = 'p' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
		  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
		  AND (c.relreplident = 'n'
		    OR c.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisprimary)
		    OR c.relreplident = 'i' AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = c.oid AND i.indisreplident AND i.indisvalid))
		ORDER BY 1`)
}

func names(ctx context.Context, c *pgx.Conn, q string, args ...any) ([]string, error) {
	rows, err := c.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

func (p *ReplicationPreflight) readTarget(ctx context.Context, env *steps.Env, exts map[string]srcExtension, f *replFindings) error {
	tgt, err := p.Target.resolve(ctx, env)
	if err != nil {
		return err
	}
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	var vnum int
	if err := c.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&vnum); err != nil {
		return err
	}
	if vnum < 100000 {
		f.refusals = append(f.refusals, fmt.Sprintf("%s runs PostgreSQL %d: a subscription needs 10 or later", tgt.Label, vnum))
		f.fixes = append(f.fixes, "create the target with PostgreSQL 10 or later")
	}
	gaps, err := extensionGaps(ctx, c, exts)
	if err != nil {
		return err
	}
	for _, g := range gaps {
		f.refusals = append(f.refusals, fmt.Sprintf("extension %s on %s", g, tgt.Label))
		f.fixes = append(f.fixes, g.fix())
	}
	return nil
}

func (f replFindings) check() steps.Check {
	if len(f.refusals) == 0 {
		warned := fmt.Sprintf("%d warnings", len(f.warnings))
		if len(f.warnings) == 1 {
			warned = "1 warning"
		}
		return steps.ReadyTo(steps.Read, "read the source for logical replication: nothing refused (%s)", warned)
	}
	what := fmt.Sprintf("%d problems stop", len(f.refusals))
	if len(f.refusals) == 1 {
		what = "1 problem stops"
	}
	return steps.BlockedBy(fmt.Sprintf("%s logical replication: %s", what, strings.Join(f.refusals, "; ")), strings.Join(f.fixes, "; "))
}

// Check reads and answers with every refusal at once.
func (p *ReplicationPreflight) Check(ctx context.Context, env *steps.Env) steps.Check {
	f, err := p.read(ctx, env)
	if err != nil {
		return unknownOr(err, "check the source's connection and credentials")
	}
	return f.check()
}

// Apply reads again, says every warning, and fails on a refusal.
func (p *ReplicationPreflight) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	f, err := p.read(ctx, env)
	if err != nil {
		return nil, err
	}
	for _, w := range f.warnings {
		env.Info("warning: " + w)
	}
	if ch := f.check(); ch.State == steps.Blocked {
		return nil, ch.Err()
	}
	return steps.Outputs{
		"no-identity":   steps.Output{List: f.noIdentity},
		"large-objects": steps.Output{Value: strconv.FormatInt(f.largeObjects, 10)},
		"warnings":      steps.Output{List: f.warnings},
	}, nil
}

// Verify: the reading is the apply.
func (p *ReplicationPreflight) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (p *ReplicationPreflight) Rollback(context.Context, *steps.Env) error { return nil }

func isTrueText(s string) bool { return s == "true" || s == "yes" || s == "1" }
