package pgdata

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// LostWrites is the `pg-lost-writes` kind, the replicate strategy's cut-back: before the new
// instance is deleted and the source takes its name back, it lists every table of the new instance
// written after the cut-over (its write counters against those the cut-over recorded, Writes) —
// those rows, updates and deletes exist only there and are lost with it. cairn does not carry them
// back: a reverse subscription set up at the cut-over would, but it writes into the source the
// application is about to use again, with its own conflicts — a cut-back is the moment to stop and
// look, so the list is journaled and shown, and the engineer decides (a dump of those tables before
// the cut-back's delete is confirmed). Nothing is listed when the cut-over never happened (Writes
// given but unknown, or no quiesce) or Server is the quiesced source itself. Without `writes:` (a
// strategy whose swap records no counters) and a new instance under Server, it says plainly that
// it cannot list them. It reads only.
type LostWrites struct {
	Server  Server       `yaml:"server"`
	Quiesce ref.Template `yaml:"quiesce"`
	Writes  ref.Template `yaml:"writes"`
}

// OutputNames declares the outputs.
func (l *LostWrites) OutputNames() []string { return []string{"lost"} }

// Describe lists the query.
func (l *LostWrites) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: steps.ActSQL, Target: l.Server.describe(env), Text: "-- per database: SELECT schemaname, relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables   -- every table written since the cut-over's counters is listed as lost with the new instance"}}
}

// Check is ready to read.
func (l *LostWrites) Check(ctx context.Context, env *steps.Env) steps.Check {
	return steps.ReadyTo(steps.Read, "list the writes made on the new instance after the cut-over (lost with it)")
}

// Apply lists the lost writes.
func (l *LostWrites) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	s, err := env.OptionalText(l.Writes)
	if err != nil {
		s = ""
	}
	st, _, err := quiesceOf(env, l.Quiesce)
	if err != nil {
		return nil, err
	}
	if s == "" && (!l.Writes.IsZero() || st.Source == nil) {
		env.Info("the cut-over did not happen: nothing was written to the new instance for the application, nothing is lost")
		return steps.Outputs{"lost": steps.Output{}}, nil
	}
	var at map[string]map[string][3]int64
	if s != "" {
		if err := json.Unmarshal([]byte(s), &at); err != nil {
			return nil, fmt.Errorf("the cut-over's write counters are not readable: %w", err)
		}
	}
	srv, err := l.Server.resolve(ctx, env)
	if err != nil {
		if isAbsent(err) {
			env.Info(fmt.Sprintf("%v: nothing to read", err))
			return steps.Outputs{"lost": steps.Output{}}, nil
		}
		return nil, err
	}
	if st.Source != nil {
		c, err := srv.connect(ctx, "")
		if err != nil {
			return nil, err
		}
		live, err := srv.identify(ctx, c)
		c.Close(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		if sameServer(*st.Source, live) {
			env.Info(srv.Label + " is the source itself: nothing of the new instance to lose there")
			return steps.Outputs{"lost": steps.Output{}}, nil
		}
	}
	if at == nil {
		// no counters were recorded when the application got in (no `writes:`): say so, never "nothing"
		unknown := "cannot list the writes " + srv.Label + " took since the application got in: no write counters were recorded then (only the replicate strategy's cut-over records them); every write made on it since the swap is lost with it but for a final snapshot the delete keeps — dump the tables that matter before confirming the delete"
		env.Info(unknown)
		return steps.Outputs{"lost": steps.Output{List: []string{unknown}}}, nil
	}
	now, err := tableWrites(ctx, srv, sortedKeys(at))
	if err != nil {
		return nil, err
	}
	var lost []string
	for _, db := range sortedKeys(now) {
		for _, t := range sortedKeys(now[db]) {
			w, was := now[db][t], at[db][t]
			if d := [3]int64{w[0] - was[0], w[1] - was[1], w[2] - was[2]}; d != [3]int64{} {
				lost = append(lost, fmt.Sprintf("%s.%s: %d inserted, %d updated, %d deleted", db, t, d[0], d[1], d[2]))
			}
		}
	}
	if len(lost) == 0 {
		env.Info("no table of " + srv.Label + " was written after the cut-over: nothing is lost")
	}
	for _, x := range lost {
		env.Info("LOST with the new instance (written after the cut-over): " + x)
	}
	return steps.Outputs{"lost": steps.Output{List: lost}}, nil
}

// Verify: the listing is the apply.
func (l *LostWrites) Verify(context.Context, *steps.Env) error { return nil }

// Rollback has nothing to undo.
func (l *LostWrites) Rollback(context.Context, *steps.Env) error { return nil }
