package pgdata

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// Provenance is what an artifact a later check trusts was taken from: the globals file, the dump's
// owner record and manifest, a streamed copy's manifest and the quiesce's state each carry one. A
// check says done only when the artifact's provenance matches the source as it is now and this run
// (judgeProvenance); anything else is another source's, another run's or an older copy, and is
// never taken for this run's work.
type Provenance struct {
	// RunID is the run that wrote the artifact ("" outside a run: a test, a plan).
	RunID string `json:"run_id"`
	// Source is who the artifact was read from.
	Source Identity `json:"source"`
	// WAL is the source's WAL insert position read just before the artifact's data was read (for a
	// dump: before its snapshots were exported), so the data is at least as new as WAL.
	WAL string `json:"wal,omitempty"`
	// QuiesceWAL is the quiesce's WAL position the artifact was taken after ("" without a quiesce).
	QuiesceWAL string `json:"quiesce_wal,omitempty"`
	// Taken is when it was taken.
	Taken time.Time `json:"taken"`
}

// Identity says which PostgreSQL server (and which of its databases) something came from. An RDS
// instance is named by its DbiResourceId, which stays with it across renames and is never reused; a
// server by its system identifier (pg_control_system(): every copy of one cluster, a restored
// snapshot included, shares it, hence the resource id first) and its databases' OIDs.
type Identity struct {
	Label      string `json:"label"`                 // as plans show it: "instance app-db", a conninfo
	Instance   string `json:"instance,omitempty"`    // the RDS identifier when read (informational: renames keep the resource id)
	ResourceID string `json:"resource_id,omitempty"` // DbiResourceId
	SystemID   string `json:"system_id,omitempty"`   // pg_control_system().system_identifier
	// SystemIDNote says why the system identifier could not be read (a role the server does not
	// let call pg_control_system()); the identity then rests on the resource id and the OIDs.
	SystemIDNote string `json:"system_id_note,omitempty"`
	// Databases are the databases cairn moves (not templates, not postgres or rdsadmin), by OID.
	Databases map[string]uint32 `json:"databases"`
}

// String names the identity in a sentence.
func (id Identity) String() string {
	var ks []string
	if id.ResourceID != "" {
		ks = append(ks, "DbiResourceId "+id.ResourceID)
	}
	if id.SystemID != "" {
		ks = append(ks, "system identifier "+id.SystemID)
	}
	var dbs []string
	for _, n := range slices.Sorted(maps.Keys(id.Databases)) {
		dbs = append(dbs, fmt.Sprintf("%s oid %d", n, id.Databases[n]))
	}
	if len(dbs) > 0 {
		ks = append(ks, "databases "+strings.Join(dbs, ", "))
	}
	if len(ks) == 0 {
		return id.Label
	}
	return id.Label + " (" + strings.Join(ks, "; ") + ")"
}

// identify reads the identity of the server c is connected to (its default database).
func (d dsn) identify(ctx context.Context, c *pgx.Conn) (Identity, error) {
	id := Identity{Label: d.Label, Instance: d.Instance, ResourceID: d.ResourceID, Databases: map[string]uint32{}}
	// pg_control_system() is executable by PUBLIC in stock PostgreSQL; a provider may revoke it
	// from its master user — then the resource id and the OIDs carry the identity, and it says so.
	var sys string
	err := c.QueryRow(ctx, "SELECT system_identifier::text FROM pg_control_system()").Scan(&sys)
	var pe *pgconn.PgError
	switch {
	case err == nil:
		id.SystemID = sys
	case errors.As(err, &pe) && (pe.Code == "42501" || pe.Code == "42883"):
		id.SystemIDNote = "pg_control_system() is not available to this role (" + pe.Message + "): the identity rests on the DbiResourceId and the database OIDs"
	default:
		return id, fmt.Errorf("read the system identifier of %s: %w", d.Label, err)
	}
	rows, err := c.Query(ctx, `SELECT datname, oid FROM pg_database WHERE datallowconn AND NOT datistemplate
		AND datname NOT IN ('rdsadmin', 'postgres')`)
	if err != nil {
		return id, fmt.Errorf("list the databases of %s: %w", d.Label, err)
	}
	defer rows.Close()
	for rows.Next() {
		var n string
		var oid uint32
		if err := rows.Scan(&n, &oid); err != nil {
			return id, err
		}
		id.Databases[n] = oid
	}
	return id, rows.Err()
}

// walPosition reads where WAL is being inserted now.
func walPosition(ctx context.Context, c *pgx.Conn) (string, error) {
	var wal string
	if err := c.QueryRow(ctx, "SELECT pg_current_wal_insert_lsn()::text").Scan(&wal); err != nil {
		return "", fmt.Errorf("read the WAL position: %w", err)
	}
	return wal, nil
}

// parseLSN reads a WAL position "X/Y".
func parseLSN(s string) (uint64, error) {
	hi, lo, ok := strings.Cut(s, "/")
	h, err1 := strconv.ParseUint(hi, 16, 32)
	l, err2 := strconv.ParseUint(lo, 16, 32)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not a WAL position", s)
	}
	return h<<32 | l, nil
}

// otherSource lists what says the recorded identity is another server than the live one: its
// resource id or system identifier. Empty: the same server (as far as both sides could tell).
func otherSource(rec, live Identity) []string {
	var out []string
	if rec.ResourceID != live.ResourceID {
		out = append(out, fmt.Sprintf("DbiResourceId %s, the source's is %s", orDefault(rec.ResourceID, "(none: not an RDS instance)"), orDefault(live.ResourceID, "(none: not an RDS instance)")))
	}
	if rec.SystemID != "" && live.SystemID != "" && rec.SystemID != live.SystemID {
		out = append(out, fmt.Sprintf("system identifier %s, the source's is %s", rec.SystemID, live.SystemID))
	}
	return out
}

// otherDatabases lists how the recorded databases differ from the live ones (by name and OID): a
// database dropped and created again under its name has another OID, and is another database.
func otherDatabases(rec, live Identity) []string {
	var out []string
	for _, n := range slices.Sorted(maps.Keys(rec.Databases)) {
		switch oid, ok := live.Databases[n]; {
		case !ok:
			out = append(out, fmt.Sprintf("database %s (oid %d) is no longer on the source", n, rec.Databases[n]))
		case oid != rec.Databases[n]:
			out = append(out, fmt.Sprintf("database %s had oid %d, the source's has oid %d (dropped and created again)", n, rec.Databases[n], oid))
		}
	}
	for _, n := range slices.Sorted(maps.Keys(live.Databases)) {
		if _, ok := rec.Databases[n]; !ok {
			out = append(out, fmt.Sprintf("database %s (oid %d) is on the source but was not when it was taken", n, live.Databases[n]))
		}
	}
	return out
}

// verdict is what a check makes of an artifact's provenance.
type verdict int

const (
	// provMatches: taken by this run from the source as it is now, after the quiesce.
	provMatches verdict = iota
	// provStale: this run's own artifact of this source, but older than the source as it is now
	// (taken before the quiesce, or the source's databases changed since): this run redoes it.
	provStale
	// provForeign: another source's, another run's, or of unknown origin: never done, never
	// overwritten — the engineer moves it aside.
	provForeign
)

// judgeProvenance compares an artifact's provenance with the source as it is now (live), this run
// (runID) and the quiesce's WAL position (quiesceWAL, "" when there is none). what names the
// artifact and where it is ("the dump in /var/tmp/x"). The reason says what it is and why.
func judgeProvenance(what string, rec *Provenance, live Identity, runID, quiesceWAL string) (verdict, string) {
	if rec == nil {
		return provForeign, what + " carries no record of the source it was taken from (written by another tool, or by a cairn that did not record it), so it cannot be this run's"
	}
	taken := fmt.Sprintf("taken from %s by run %s at %s", rec.Source, orDefault(rec.RunID, "(none)"), rec.Taken.UTC().Format(time.RFC3339))
	if diff := otherSource(rec.Source, live); len(diff) > 0 {
		return provForeign, fmt.Sprintf("%s is another source's: %s — %s", what, strings.Join(diff, "; "), taken)
	}
	if rec.RunID != runID {
		return provForeign, fmt.Sprintf("%s was written by another run (%s), not this one (%s): %s", what, orDefault(rec.RunID, "none"), orDefault(runID, "a new run"), taken)
	}
	if diff := otherDatabases(rec.Source, live); len(diff) > 0 {
		return provStale, fmt.Sprintf("%s no longer matches the source: %s — %s", what, strings.Join(diff, "; "), taken)
	}
	if quiesceWAL != "" {
		q, err := parseLSN(quiesceWAL)
		if err != nil {
			return provStale, fmt.Sprintf("the quiesce's WAL position is unreadable (%v), so %s cannot be shown to be newer", err, what)
		}
		w, err := parseLSN(rec.WAL)
		if err != nil || w < q {
			return provStale, fmt.Sprintf("%s was read at WAL %s, before the quiesce at %s: writes between the two are not in it — %s", what, orDefault(rec.WAL, "(not recorded)"), quiesceWAL, taken)
		}
	}
	return provMatches, fmt.Sprintf("%s was %s", what, taken)
}

// moveAside is the fix for another's artifact at path: cairn neither uses nor overwrites it.
func moveAside(path string) string {
	return fmt.Sprintf("cairn neither uses nor overwrites it: move it aside (mv %s %s.old) or give this run another dump-dir (-p dump-dir=…), then run again", path, path)
}

// provenanceCheck turns a verdict into a check's answer for the non-matching cases; ok is true
// when the artifact matches and the caller goes on with its own completeness checks.
func provenanceCheck(v verdict, reason, path string, redo steps.Change) (steps.Check, bool) {
	switch v {
	case provForeign:
		return steps.BlockedBy(reason, moveAside(path)), false
	case provStale:
		return steps.ReadyTo(redo, "%s → take it again (this run's own, replaced)", reason), false
	}
	return steps.Check{}, true
}

// provenanceSQL is what a plan shows of reading the source's identity.
const provenanceSQL = "-- the source's identity and WAL position, recorded with what is taken (with DescribeDBInstances' DbiResourceId for an RDS instance):\nSELECT system_identifier FROM pg_control_system();\nSELECT datname, oid FROM pg_database WHERE <the databases moved>;\nSELECT pg_current_wal_insert_lsn();"

// quiesceWords says, for a plan, what the quiesce's WAL position is used for.
func quiesceWords(t ref.Template) string {
	if t.IsZero() {
		return ""
	}
	return "; this run's own dump read before the quiesce's WAL position is taken again"
}

// foreign says an artifact a step would consume is not this run's, or not of its source: the
// reason, carrying its fix.
func foreign(reason, fix string) error { return steps.WithFix(errors.New(reason), fix) }

// boundTo checks that an artifact a consuming step reads (a globals file, a manifest) was written by
// this run from the source named by sourceID: its DbiResourceId (rds-preflight's resource-id) or,
// for a server that is not an RDS instance, its system identifier; "" checks the run alone.
func boundTo(what, path string, rec *Provenance, runID, sourceID string) error {
	if rec == nil {
		return foreign(what+" carries no record of the source it was taken from, so it cannot be this run's", moveAside(path))
	}
	taken := fmt.Sprintf("taken from %s by run %s at %s", rec.Source, orDefault(rec.RunID, "(none)"), rec.Taken.UTC().Format(time.RFC3339))
	if sourceID != "" && rec.Source.ResourceID != sourceID && (rec.Source.ResourceID != "" || rec.Source.SystemID != sourceID) {
		return foreign(fmt.Sprintf("%s is not of this run's source %s: %s", what, sourceID, taken), moveAside(path))
	}
	if rec.RunID != runID {
		return foreign(fmt.Sprintf("%s was written by another run (%s), not this one (%s): %s", what, orDefault(rec.RunID, "none"), orDefault(runID, "a new run"), taken), moveAside(path))
	}
	return nil
}

// sourceWords names, for a plan, the source an artifact must be of: " of the source with
// DbiResourceId <id>", or "" when the step is not given one.
func sourceWords(env *steps.Env, t ref.Template) string {
	if t.IsZero() {
		return ""
	}
	return " of the source with DbiResourceId " + env.Describe(t)
}
