package loadgen

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Verdict is what Check found on the instance behind the endpoint, against a writer's record.
type Verdict struct {
	// Committed is the number of orders the writer saw committed.
	Committed int
	// Missing are committed orders the instance does not have: lost writes.
	Missing []int64
	// Behind are orders whose status is behind the last one committed for them: lost updates.
	Behind []int64
	// SequenceLast is the orders' sequence's last_value; SequenceBehind says the next id it hands
	// out is not above every committed id (an insert would collide, or reuse a lost order's id).
	SequenceLast   int64
	SequenceBehind bool
	// Anomalies are what the writer itself saw go wrong while it ran.
	Anomalies []string
}

// Lost counts the lost writes (orders and updates).
func (v Verdict) Lost() int { return len(v.Missing) + len(v.Behind) }

// OK says nothing was lost, the sequence is not behind and nothing went wrong while writing.
func (v Verdict) OK() bool { return v.Lost() == 0 && !v.SequenceBehind && len(v.Anomalies) == 0 }

func (v Verdict) String() string {
	if v.OK() {
		return fmt.Sprintf("%d committed orders all present with their last status; sequence at %d, not behind", v.Committed, v.SequenceLast)
	}
	var parts []string
	if len(v.Missing) > 0 {
		parts = append(parts, fmt.Sprintf("%d committed orders missing (%s)", len(v.Missing), ids(v.Missing)))
	}
	if len(v.Behind) > 0 {
		parts = append(parts, fmt.Sprintf("%d orders' status behind the last committed update (%s)", len(v.Behind), ids(v.Behind)))
	}
	if v.SequenceBehind {
		parts = append(parts, fmt.Sprintf("the orders' sequence is behind: last_value %d", v.SequenceLast))
	}
	parts = append(parts, v.Anomalies...)
	return fmt.Sprintf("of %d committed orders: %s", v.Committed, strings.Join(parts, "; "))
}

func ids(xs []int64) string {
	var b strings.Builder
	for i, x := range xs {
		if i == 8 {
			fmt.Fprintf(&b, ", … %d more", len(xs)-i)
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprint(&b, x)
	}
	return b.String()
}

// Check connects through connString (the same endpoint the writer used, so it reads whichever
// instance holds the name now) and compares the instance with rec: every committed order present,
// with at least its last committed status, and the sequence not behind the highest committed id.
// An error means it could not look; a Verdict that is not OK means something was lost.
func Check(ctx context.Context, connString string, rec *Record) (Verdict, error) {
	v := Verdict{Committed: len(rec.Commits), Anomalies: rec.Anomalies}
	conn, err := pgx.Connect(ctx, connString)
	if err != nil {
		return v, fmt.Errorf("check the writer's orders: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	found := make(map[int64]Status, len(rec.Commits))
	const batch = 5000
	for i := 0; i < len(rec.Commits); i += batch {
		chunk := rec.Commits[i:min(i+batch, len(rec.Commits))]
		want := make([]int64, len(chunk))
		for j, c := range chunk {
			want[j] = c.ID
		}
		rows, err := conn.Query(ctx, readSQL, want)
		if err != nil {
			return v, fmt.Errorf("check the writer's orders: %w", err)
		}
		for rows.Next() {
			var id int64
			var st string
			if err := rows.Scan(&id, &st); err != nil {
				rows.Close()
				return v, fmt.Errorf("check the writer's orders: %w", err)
			}
			found[id] = parseStatus(st)
		}
		if err := rows.Err(); err != nil {
			return v, fmt.Errorf("check the writer's orders: %w", err)
		}
	}
	for _, c := range rec.Commits {
		st, ok := found[c.ID]
		switch {
		case !ok:
			v.Missing = append(v.Missing, c.ID)
		case st < c.Status:
			v.Behind = append(v.Behind, c.ID)
		}
	}
	var called bool
	if err := conn.QueryRow(ctx, sequenceSQL).Scan(&v.SequenceLast, &called); err != nil {
		return v, fmt.Errorf("read the orders' sequence: %w", err)
	}
	// nextval hands out last_value+1 once called, last_value itself before
	if top := rec.MaxID(); v.SequenceLast < top || !called && v.SequenceLast == top && top > 0 {
		v.SequenceBehind = true
	}
	return v, nil
}
