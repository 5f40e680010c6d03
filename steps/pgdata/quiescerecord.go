package pgdata

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The quiesce's record on the server itself: the table cairn.quiesce in the `postgres` database
// (which cairn never dumps, replicates or compares) holds, for each role the quiesce blocked, its
// connection limit before and the run that blocked it. It is written in the transaction that sets
// the roles' CONNECTION LIMIT 0, so a role is never at 0 by cairn's hand without its row — a
// SIGKILL mid-apply leaves both or neither — and an instance restored from a snapshot of the
// quiesced source carries it. A login role at 0 without a row was put there by someone else (a
// DBA disabling it on purpose): it is not the application, and cairn leaves it at 0 everywhere.

// recordDB is the database the record lives in.
const recordDB = "postgres"

// blockedRole is one row of the record.
type blockedRole struct {
	Previous int    // the role's connection limit before the quiesce
	RunID    string // the run that blocked it
}

// readBlocked reads the record (empty when there is none). c is connected to recordDB.
func readBlocked(ctx context.Context, c *pgx.Conn) (map[string]blockedRole, error) {
	out := map[string]blockedRole{}
	var exists bool
	if err := c.QueryRow(ctx, "SELECT to_regclass('cairn.quiesce') IS NOT NULL").Scan(&exists); err != nil || !exists {
		return out, err
	}
	rows, err := c.Query(ctx, "SELECT role, previous_limit, run_id FROM cairn.quiesce")
	if err != nil {
		return nil, fmt.Errorf("read the quiesce's record (cairn.quiesce in database %s): %w", recordDB, err)
	}
	defer rows.Close()
	for rows.Next() {
		var r string
		var b blockedRole
		if err := rows.Scan(&r, &b.Previous, &b.RunID); err != nil {
			return nil, err
		}
		out[r] = b
	}
	return out, rows.Err()
}

// block records each role's previous limit (role → limit) for runID and sets it to CONNECTION
// LIMIT 0, all in one transaction.
func block(ctx context.Context, c *pgx.Conn, prev map[string]int, runID string) error {
	if len(prev) == 0 {
		return nil
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	if _, err := tx.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS cairn;
		CREATE TABLE IF NOT EXISTS cairn.quiesce (role text PRIMARY KEY, previous_limit int NOT NULL, run_id text NOT NULL, blocked_at timestamptz NOT NULL DEFAULT now());
		COMMENT ON TABLE cairn.quiesce IS 'cairn pg-quiesce: roles it set to CONNECTION LIMIT 0, with their limits before; the lift puts them back and deletes the rows'`); err != nil {
		return fmt.Errorf("create the quiesce's record (cairn.quiesce in database %s): %w", recordDB, err)
	}
	for _, r := range sortedKeys(prev) {
		if _, err := tx.Exec(ctx, `INSERT INTO cairn.quiesce (role, previous_limit, run_id) VALUES ($1, $2, $3)
			ON CONFLICT (role) DO UPDATE SET previous_limit = excluded.previous_limit, run_id = excluded.run_id, blocked_at = now()`, r, prev[r], runID); err != nil {
			return fmt.Errorf("record %s's connection limit: %w", r, err)
		}
		if _, err := tx.Exec(ctx, "ALTER ROLE "+ident(r)+" CONNECTION LIMIT 0"); err != nil {
			return fmt.Errorf("block %s: %w", r, err)
		}
	}
	return tx.Commit(ctx)
}

// unblock sets each role back to its limit (role → limit) and deletes its row, in one
// transaction; the record's table and schema go when no row is left.
func unblock(ctx context.Context, c *pgx.Conn, limits map[string]int) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	var exists bool
	if err := tx.QueryRow(ctx, "SELECT to_regclass('cairn.quiesce') IS NOT NULL").Scan(&exists); err != nil {
		return err
	}
	for _, r := range sortedKeys(limits) {
		if _, err := tx.Exec(ctx, fmt.Sprintf("ALTER ROLE %s CONNECTION LIMIT %d", ident(r), limits[r])); err != nil {
			return fmt.Errorf("let %s connect again: %w", r, err)
		}
		if exists {
			if _, err := tx.Exec(ctx, "DELETE FROM cairn.quiesce WHERE role = $1", r); err != nil {
				return err
			}
		}
	}
	if exists {
		if _, err := tx.Exec(ctx, `DO $$ BEGIN
			IF NOT EXISTS (SELECT FROM cairn.quiesce) THEN
				DROP TABLE cairn.quiesce;
				IF NOT EXISTS (SELECT FROM pg_class WHERE relnamespace = 'cairn'::regnamespace)
				   AND NOT EXISTS (SELECT FROM pg_proc WHERE pronamespace = 'cairn'::regnamespace)
				   AND NOT EXISTS (SELECT FROM pg_type WHERE typnamespace = 'cairn'::regnamespace) THEN
					DROP SCHEMA cairn;
				END IF;
			END IF; END $$`); err != nil {
			return fmt.Errorf("remove the quiesce's empty record: %w", err)
		}
	}
	return tx.Commit(ctx)
}

// roleSplit sorts the application roles as the record sees them.
type roleSplit struct {
	toBlock map[string]int         // not blocked: role → its limit now
	blocked map[string]blockedRole // at 0 by a quiesce's hand (the record says so)
	dbaZero []string               // at 0 with no record: someone else's, left at 0
}

func splitRoles(roles map[string]int, rec map[string]blockedRole) roleSplit {
	s := roleSplit{toBlock: map[string]int{}, blocked: map[string]blockedRole{}}
	for _, r := range sortedKeys(roles) {
		b, ok := rec[r]
		switch {
		case roles[r] != 0:
			s.toBlock[r] = roles[r] // a row for it is stale: someone let it in again
		case ok:
			s.blocked[r] = b
		default:
			s.dbaZero = append(s.dbaZero, r)
		}
	}
	return s
}

// dbaZeroNote says which roles stay at 0 because they were there before cairn.
func dbaZeroNote(roles []string) string {
	if len(roles) == 0 {
		return ""
	}
	return fmt.Sprintf("; %s %s at CONNECTION LIMIT 0 without a quiesce's record (disabled before this run, not the application): left at 0",
		strings.Join(roles, ", "), map[bool]string{true: "is", false: "are"}[len(roles) == 1])
}
