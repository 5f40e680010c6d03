package pgdata

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// VerifyRows is the `pg-verify-rows` kind. It reads only, and lists every mismatch.
//
// With Source (the default logical path, where the source is still there, quiesced, until the
// swap): every table is counted — and checksummed with Checksums — on the source and on the target,
// and the source is the reference; the manifest in Dir is a third witness, bound to the same source
// and this run by its provenance, and must agree with both. A row missing on the target fails the
// verify even when the manifest agrees with the target.
//
// Without Source (keep-identifier: the source is deleted before the restore, so the dump is the only
// copy): the manifest is the reference — bound to the source by its provenance (SourceID: the
// source's DbiResourceId, this run's id, its WAL position after the quiesce) and counted while the
// source was quiesced — and every table on the target is compared with it.
type VerifyRows struct {
	Target    Server       `yaml:"target"`
	Source    Server       `yaml:"source"`
	Dir       ref.Template `yaml:"dir"`
	SourceID  ref.Template `yaml:"source-id"`
	Checksums ref.Template `yaml:"checksums"`
}

func (s Server) given() bool {
	return !s.Instance.IsZero() || !s.Conn.IsZero() || !s.CredentialsSecret.IsZero()
}

// Describe lists the queries and says what the reference is.
func (v *VerifyRows) Describe(env *steps.Env) []steps.Action {
	man := env.Describe(v.Dir) + "/" + manifestName
	q := "SELECT count(*)" + map[bool]string{true: ", md5 of the rows in order", false: ""}[describesOn(env, v.Checksums)] + " FROM <each table>"
	if v.Source.given() {
		return []steps.Action{
			{Kind: steps.ActSQL, Target: v.Source.describe(env), Text: provenanceSQL + "\n-- must be the server " + man + " was taken from by this run" + sourceWords(env, v.SourceID)},
			{Kind: steps.ActSQL, Target: v.Source.describe(env) + " and " + v.Target.describe(env), Text: q + "   -- on the source (quiesced: the reference) and on the target; every table must match, and the manifest " + man + " (a third witness) must agree with both"},
		}
	}
	return []steps.Action{
		{Kind: steps.ActFile, Target: "local", Text: man + "   -- the reference: the source is deleted before the restore, so the dump is the only copy; its manifest, taken by this run" + sourceWords(env, v.SourceID) + ", is bound to it by its provenance (DbiResourceId, database OIDs, WAL position after the quiesce, run id) and was counted while the source was quiesced"},
		{Kind: steps.ActSQL, Target: v.Target.describe(env), Text: q + "   -- every table must match the manifest"},
	}
}

// Check is ready to read.
func (v *VerifyRows) Check(ctx context.Context, env *steps.Env) steps.Check {
	if v.Source.given() {
		return steps.ReadyTo(steps.Read, "count every table on the source (quiesced) and on the target; the manifest is a third witness")
	}
	return steps.ReadyTo(steps.Read, "compare the target's rows with the dump's manifest (the reference: the source is gone)")
}

// side is one server's counts of one database.
type side struct {
	name   string // "the source", "the target", "the manifest"
	absent bool
	rows   map[string]int64
	sums   map[string]string
}

// differ lists how got differs from ref, table by table, for database db.
func differ(db string, ref, got side) []string {
	switch {
	case ref.absent && got.absent:
		return nil
	case got.absent:
		return []string{fmt.Sprintf("%s: database absent on %s", db, got.name)}
	case ref.absent:
		return []string{fmt.Sprintf("%s: database absent on %s", db, ref.name)}
	}
	var out []string
	for _, k := range slices.Sorted(maps.Keys(ref.rows)) {
		n, ok := got.rows[k]
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s.%s: missing on %s (%d rows on %s)", db, k, got.name, ref.rows[k], ref.name))
		case n != ref.rows[k]:
			out = append(out, fmt.Sprintf("%s.%s: %d rows on %s, %d on %s", db, k, n, got.name, ref.rows[k], ref.name))
		case ref.sums != nil && got.sums != nil && ref.sums[k] != got.sums[k]:
			out = append(out, fmt.Sprintf("%s.%s: same row count, different content on %s than on %s (checksum %s vs %s)", db, k, got.name, ref.name, got.sums[k], ref.sums[k]))
		}
	}
	for _, k := range slices.Sorted(maps.Keys(got.rows)) {
		if _, ok := ref.rows[k]; !ok {
			out = append(out, fmt.Sprintf("%s.%s: on %s but not on %s", db, k, got.name, ref.name))
		}
	}
	return out
}

// count reads one database's rows (and checksums) on a server.
func count(ctx context.Context, d dsn, name, db string, checksums bool) (side, error) {
	s := side{name: name}
	c, err := d.connect(ctx, "")
	if err != nil {
		return s, err
	}
	var exists bool
	err = c.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", db).Scan(&exists)
	c.Close(context.WithoutCancel(ctx))
	if err != nil || !exists {
		s.absent = !exists
		return s, err
	}
	dc, err := d.connect(ctx, db)
	if err != nil {
		return s, err
	}
	defer dc.Close(context.WithoutCancel(ctx))
	s.rows, s.sums, err = countTables(ctx, dc, checksums)
	return s, err
}

// Apply compares.
func (v *VerifyRows) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	dir, err := env.Text(v.Dir)
	if err != nil {
		return nil, err
	}
	m, err := readManifest(dir)
	if err != nil {
		return nil, fmt.Errorf("no complete dump or copy record in %s: %w", dir, err)
	}
	sid, err := env.OptionalText(v.SourceID)
	if err != nil {
		return nil, err
	}
	if err := boundTo("the manifest in "+dir, dir, m.Provenance, env.RunID, sid); err != nil {
		return nil, err
	}
	checksums, err := env.Flag(v.Checksums)
	if err != nil {
		return nil, err
	}
	tgt, err := v.Target.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	var src *dsn
	if v.Source.given() {
		s, err := v.Source.resolve(ctx, env)
		if err != nil {
			return nil, err
		}
		c, err := s.connect(ctx, "")
		if err != nil {
			return nil, err
		}
		live, err := s.identify(ctx, c)
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		if diff := append(otherSource(m.Provenance.Source, live), otherDatabases(m.Provenance.Source, live)...); len(diff) > 0 {
			return nil, &steps.VerifyError{What: "the source", Expected: "the server the manifest in " + dir + " was taken from: " + m.Provenance.Source.String(), Found: live.String() + ": " + strings.Join(diff, "; ")}
		}
		src = &s
	}
	var all []string
	var tables int
	var rows int64
	for _, db := range m.Databases {
		sums := checksums || db.Checksums != nil
		man := side{name: "the manifest", rows: db.Rows, sums: db.Checksums}
		t, err := count(ctx, tgt, "the target", db.Name, sums)
		if err != nil {
			return nil, err
		}
		if src != nil {
			s, err := count(ctx, *src, "the source", db.Name, sums)
			if err != nil {
				return nil, err
			}
			all = append(all, differ(db.Name, s, t)...)   // the reference
			all = append(all, differ(db.Name, s, man)...) // the third witness
			tables += len(s.rows)
			for _, n := range s.rows {
				rows += n
			}
			continue
		}
		all = append(all, differ(db.Name, man, t)...)
		tables += len(db.Rows)
		for _, n := range db.Rows {
			rows += n
		}
	}
	if len(all) > 0 {
		ref := "the source's and the manifest's rows"
		if src == nil {
			ref = "the manifest's rows (the reference: the source is gone)"
		}
		return nil, &steps.VerifyError{What: "rows on the target", Expected: ref, Found: fmt.Sprintf("%d differences: %s", len(all), strings.Join(all, "; "))}
	}
	how := "on the source (quiesced) and on the target, and the manifest agrees"
	if src == nil {
		how = "on the target and in the manifest (the reference: the source was deleted before the restore; the manifest is bound to " + m.Provenance.Source.Label + " by its provenance)"
	}
	summed := checksums || (len(m.Databases) > 0 && m.Databases[0].Checksums != nil)
	env.Info(fmt.Sprintf("all %d tables in %d databases, %s %s: %d rows", tables, len(m.Databases), equalWhat(summed), how, rows))
	return nil, nil
}

// Verify repeats the comparison.
func (v *VerifyRows) Verify(ctx context.Context, env *steps.Env) error {
	_, err := v.Apply(ctx, env)
	return err
}

// Rollback has nothing to undo.
func (v *VerifyRows) Rollback(ctx context.Context, env *steps.Env) error { return nil }
