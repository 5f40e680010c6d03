package pgdata

import (
	"github.com/jackc/pgx/v5"

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

// QuiesceKilledAfterBlock blocks roles (role → limit before) with the quiesce's own transaction,
// as runID — where a SIGKILL right after its commit leaves the source (nothing in the journal).
func QuiesceKilledAfterBlock(ctx context.Context, conn string, prev map[string]int, runID string) error {
	c, err := pgx.Connect(ctx, conn)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return block(ctx, c, prev, runID)
}
