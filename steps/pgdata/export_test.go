package pgdata

import (
	"context"

	"github.com/cairn-runbooks/cairn/steps"
)

// CutoverKilledAfterRecord runs the cut-over up to its record (caught up, proven, recorded, nothing
// dropped), then drops the subscriptions of databases dbs with the cut-over's own drop — where a
// SIGKILL between two databases' drops leaves it (their slots still on the source).
func CutoverKilledAfterRecord(ctx context.Context, st steps.Step, env *steps.Env, dbs ...string) error {
	c := st.(*Cutover)
	r, err := c.begin(ctx, env)
	if err != nil {
		return err
	}
	defer r.p.close(ctx)
	if err := c.record(ctx, env, r); err != nil {
		return err
	}
	for i, db := range r.p.dbs {
		for _, d := range dbs {
			if d == db {
				if err := dropSubscriptionOn(ctx, env, r.p.conns[i][target], r.st.tgt, db, r.st.sub(db)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}
