package lookup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgRoles lists the roles of the cluster in.Conn reaches (libpq's environment when empty), login
// roles first, with their attributes and memberships; PostgreSQL's built-in pg_* roles are left
// out and RDS's own roles are shown as not to be used.
func pgRoles(ctx context.Context, in Inputs) ([]Choice, error) {
	cfg, err := pgx.ParseConfig(in.Conn)
	if err != nil {
		return nil, fmt.Errorf("the conn parameter is not a libpq connection string: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `
SELECT r.rolname, r.rolcanlogin, r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
       r.rolvaliduntil,
       coalesce((SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname)
                   FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '')
  FROM pg_roles r
 WHERE r.rolname !~ '^pg_'
 ORDER BY r.rolcanlogin DESC, r.rolname`)
	if err != nil {
		return nil, err
	}
	var out []Choice
	for rows.Next() {
		var (
			name, member                             string
			login, super, crRole, crDB, repl, bypass bool
			until                                    *time.Time
		)
		if err := rows.Scan(&name, &login, &super, &crRole, &crDB, &repl, &bypass, &until, &member); err != nil {
			return nil, err
		}
		attrs := []string{"no login"}
		if login {
			attrs[0] = "login"
		}
		for _, a := range []struct {
			on   bool
			name string
		}{{super, "superuser"}, {crRole, "create role"}, {crDB, "create db"}, {repl, "replication"}, {bypass, "bypass RLS"}} {
			if a.on {
				attrs = append(attrs, a.name)
			}
		}
		if until != nil {
			attrs = append(attrs, "valid until "+until.UTC().Format("2006-01-02"))
		}
		if member != "" {
			attrs = append(attrs, "member of "+member)
		}
		c := Choice{Value: name, Detail: strings.Join(attrs, " · ")}
		if name == "rdsadmin" || strings.HasPrefix(name, "rds_") {
			c.NotEligible = "RDS's own role"
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
