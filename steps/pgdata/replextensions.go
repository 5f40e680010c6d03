package pgdata

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// The extensions a replication needs on the target. The schema restore creates every extension the
// source's databases have (`CREATE EXTENSION` as pg_dump writes it, at the target's default
// version), so an extension the target's server does not offer — or offers only older than the
// source's — fails the restore half-way. What a new RDS instance offers depends on its engine
// version and is knowable only from the instance itself, so the replicate step compares the two
// servers once the target exists, before it creates anything on either; the preflight, before the
// target exists, can only say what the target will need.

// srcExtension is one extension installed on the source: its version (the newest when databases
// differ) and the databases that have it.
type srcExtension struct {
	Version string
	DBs     []string
	// Default is the version the source's own server would create now ("" when it no longer offers
	// the extension); a restore creates the target's default version, not the installed one.
	Default string
}

// extGap is an extension of the source the target cannot give as the source has it.
type extGap struct {
	Name    string
	Source  srcExtension
	Offered string // the target's newest version; "" when it offers none
}

func (g extGap) String() string {
	if g.Offered == "" {
		return fmt.Sprintf("%s %s (in %s): not offered at all", g.Name, g.Source.Version, strings.Join(g.Source.DBs, ", "))
	}
	return fmt.Sprintf("%s %s (in %s): offered only up to %s, older", g.Name, g.Source.Version, strings.Join(g.Source.DBs, ", "), g.Offered)
}

// fix is what the engineer does about it.
func (g extGap) fix() string {
	if g.Offered == "" {
		return fmt.Sprintf("the target's engine version offers no %s: choose an engine version that has it (or install it on a self-managed target's server), or drop %s on the source (DROP EXTENSION %s in %s) if nothing uses it", g.Name, g.Name, g.Name, strings.Join(g.Source.DBs, ", "))
	}
	return fmt.Sprintf("the target's engine version offers %s only up to %s: choose an engine version that has %s %s or newer", g.Name, g.Offered, g.Name, g.Source.Version)
}

// sourceExtensions reads the extensions installed in each of dbs on the source (plpgsql, in every
// database, left out).
func sourceExtensions(ctx context.Context, src dsn, dbs []string) (map[string]srcExtension, error) {
	out := map[string]srcExtension{}
	for _, db := range dbs {
		c, err := src.connect(ctx, db)
		if err != nil {
			return nil, err
		}
		rows, err := c.Query(ctx, `SELECT e.extname::text, e.extversion, coalesce(a.default_version, '') FROM pg_extension e
			LEFT JOIN pg_available_extensions a ON a.name = e.extname WHERE e.extname <> 'plpgsql' ORDER BY 1`)
		var rowsOf [][3]string
		if err == nil {
			rowsOf, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([3]string, error) {
				var p [3]string
				return p, r.Scan(&p[0], &p[1], &p[2])
			})
		}
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, fmt.Errorf("%s: list the extensions on %s: %w", db, src.Label, err)
		}
		for _, p := range rowsOf {
			e := out[p[0]]
			if e.Version == "" || versionLess(e.Version, p[1]) {
				e.Version = p[1]
			}
			e.Default = p[2]
			e.DBs = append(e.DBs, db)
			out[p[0]] = e
		}
	}
	return out, nil
}

// extensionGaps compares the source's extensions with what the server c is connected to offers
// (pg_available_extension_versions): every one it does not offer, or offers only older than the
// source's version, in name order.
func extensionGaps(ctx context.Context, c *pgx.Conn, exts map[string]srcExtension) ([]extGap, error) {
	rows, err := c.Query(ctx, "SELECT name::text, version FROM pg_available_extension_versions")
	if err != nil {
		return nil, fmt.Errorf("list the available extensions: %w", err)
	}
	offered := map[string]string{} // name → newest version
	var name, version string
	_, err = pgx.ForEachRow(rows, []any{&name, &version}, func() error {
		if v, ok := offered[name]; !ok || versionLess(v, version) {
			offered[name] = version
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list the available extensions: %w", err)
	}
	var gaps []extGap
	for _, n := range sortedKeys(exts) {
		e := exts[n]
		v, ok := offered[n]
		if !ok || versionLess(v, e.Version) {
			gaps = append(gaps, extGap{Name: n, Source: e, Offered: v})
		}
	}
	return gaps, nil
}

// gapsText is the reason and the fix for the gaps, every one listed.
func gapsText(target string, gaps []extGap) (reason, fix string) {
	var rs, fs []string
	for _, g := range gaps {
		rs = append(rs, g.String())
		fs = append(fs, g.fix())
	}
	return fmt.Sprintf("%s lacks %d extensions the source has — the schema restore would fail half-way: %s", target, len(gaps), strings.Join(rs, "; ")), strings.Join(fs, "; ")
}

// alignExtensions brings the extensions the schema restore created in one database of the target
// (at the target's default versions: pg_dump writes CREATE EXTENSION without a version) to the
// source's versions where the target has them: ALTER EXTENSION … UPDATE TO the source's version
// when the target's is older. A newer one on the target cannot be taken back; it is said.
func alignExtensions(ctx context.Context, env *steps.Env, src, tgt *pgx.Conn, db string) error {
	versions := func(c *pgx.Conn) (map[string]string, error) {
		out := map[string]string{}
		rows, err := c.Query(ctx, "SELECT extname::text, extversion FROM pg_extension")
		if err != nil {
			return nil, fmt.Errorf("%s: list the extensions: %w", db, err)
		}
		var n, v string
		_, err = pgx.ForEachRow(rows, []any{&n, &v}, func() error { out[n] = v; return nil })
		return out, err
	}
	have, err := versions(src)
	if err != nil {
		return err
	}
	made, err := versions(tgt)
	if err != nil {
		return err
	}
	for _, n := range sortedKeys(have) {
		want, got := have[n], made[n]
		switch {
		case got == "" || got == want:
		case versionLess(got, want):
			if _, err := tgt.Exec(ctx, fmt.Sprintf("ALTER EXTENSION %s UPDATE TO %s", ident(n), literal(want))); err != nil {
				return fmt.Errorf("%s: ALTER EXTENSION %s UPDATE TO '%s' (the restore made %s): %w", db, n, want, got, err)
			}
			env.Info(fmt.Sprintf("%s: extension %s updated from %s (the target's default) to %s, the source's", db, n, got, want))
		default:
			env.Info(fmt.Sprintf("%s: extension %s is %s on the target, newer than the source's %s (the target's default; a version cannot be taken back)", db, n, got, want))
		}
	}
	return nil
}

// sourceNotes is what the preflight can say about the source's extensions before the target
// exists: the list the target must offer (an RDS engine version's extensions are known only to an
// instance of it, so the replicate step compares them), and the ones a restore would not recreate
// as they are — no longer offered by the source's own server, or installed at another version than
// the one a CREATE EXTENSION makes today.
func sourceNotes(exts map[string]srcExtension) []string {
	if len(exts) == 0 {
		return nil
	}
	var need, odd []string
	for _, n := range sortedKeys(exts) {
		e := exts[n]
		need = append(need, n+" "+e.Version)
		switch {
		case e.Default == "":
			odd = append(odd, fmt.Sprintf("%s %s is installed (in %s) but the source's own server no longer offers it: no server of this engine version can create it — drop it on the source, or choose a target engine version that offers it", n, e.Version, strings.Join(e.DBs, ", ")))
		case e.Default != e.Version:
			odd = append(odd, fmt.Sprintf("%s is at %s (in %s) while a new CREATE EXTENSION makes %s: the schema restore creates the target's default version, not %s — ALTER EXTENSION %s UPDATE on the source first, so both sides match", n, e.Version, strings.Join(e.DBs, ", "), e.Default, e.Version, n))
		}
	}
	return append([]string{"the new instance must offer these extensions at the source's version or newer: " + strings.Join(need, ", ") +
		" — the replicate step compares them with the new instance before it creates anything there (the target does not exist yet)"}, odd...)
}

// versionLess orders extension versions as people write them ("1.10" after "1.9", "2.0beta1"
// before "2.0"): runs of digits compare as numbers, other runs as text, a version that is a prefix
// of another is older unless the rest starts with a letter (a pre-release).
func versionLess(a, b string) bool {
	pa, pb := versionParts(a), versionParts(b)
	for i := 0; i < len(pa) && i < len(pb); i++ {
		x, y := pa[i], pb[i]
		nx, ex := strconv.ParseUint(x, 10, 64)
		ny, ey := strconv.ParseUint(y, 10, 64)
		switch {
		case ex == nil && ey == nil:
			if nx != ny {
				return nx < ny
			}
		case ex == nil: // a number after a pre-release tag: 2.0.1 > 2.0beta
			return false
		case ey == nil:
			return true
		case x != y:
			return x < y
		}
	}
	if len(pa) < len(pb) { // "2.0" against "2.0beta1": the pre-release is older
		_, err := strconv.ParseUint(pb[len(pa)], 10, 64)
		return err == nil
	}
	if len(pa) > len(pb) {
		_, err := strconv.ParseUint(pa[len(pb)], 10, 64)
		return err != nil
	}
	return false
}

// versionParts splits "1.10beta2" into 1, 10, beta, 2 (separators dropped).
func versionParts(v string) []string {
	var parts []string
	cur, digits := []rune{}, false
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, string(cur))
		}
		cur = cur[:0]
	}
	for _, r := range v {
		switch {
		case unicode.IsDigit(r):
			if !digits {
				flush()
			}
			digits = true
			cur = append(cur, r)
		case unicode.IsLetter(r):
			if digits {
				flush()
			}
			digits = false
			cur = append(cur, r)
		default:
			flush()
			digits = false
		}
	}
	flush()
	return parts
}
