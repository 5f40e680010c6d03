package lookup_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// TestLocalLookups runs pg-roles and pg-clusters against a real local cluster, pg-roles against a
// socket nothing listens on, and os-users against this host.
func TestLocalLookups(t *testing.T) {
	pg := testbed.Postgres(t)
	pg.Exec(t, "postgres", `CREATE ROLE app_read NOLOGIN; CREATE ROLE app_owner LOGIN CREATEDB IN ROLE app_read; CREATE ROLE rds_superuser NOLOGIN`)
	ctx := context.Background()
	in := lookup.Inputs{Conn: pg.ConnString("postgres", "postgres")}

	roles := lookup.Run(ctx, runbooks.LookupPGRoles, in)
	if c := find(t, roles, "app_owner"); c.Detail != "login · create db · member of app_read" || c.NotEligible != "" {
		t.Errorf("app_owner: %+v", c)
	}
	if c := find(t, roles, "app_read"); c.Detail != "no login" {
		t.Errorf("app_read: %+v", c)
	}
	if c := roles.Choices[len(roles.Choices)-1]; c.Value != "rds_superuser" || c.NotEligible != "RDS's own role" {
		t.Errorf("RDS's own role is not last with its reason: %+v", roles.Choices)
	}
	for _, c := range roles.Choices {
		if strings.HasPrefix(c.Value, "pg_") {
			t.Errorf("built-in role offered: %+v", c)
		}
	}
	if r := lookup.Run(ctx, runbooks.LookupPGRoles, lookup.Inputs{Conn: "host=/nonexistent port=1 user=postgres"}); len(r.Choices) > 0 ||
		r.Failed != "cannot reach /nonexistent/.s.PGSQL.1: connect: no such file or directory" {
		t.Errorf("pg-roles on a missing socket: %+v", r)
	}

	cluster := find(t, lookup.Run(ctx, runbooks.LookupPGClusters, lookup.Inputs{}), "host="+pg.SocketDir+" port="+strconv.Itoa(pg.Port)+" user="+pg.OSUser)
	if want := "PostgreSQL " + strconv.Itoa(pg.Version) + " · " + pg.DataDir + " · ready · pid "; !strings.HasPrefix(cluster.Detail, want) {
		t.Errorf("cluster detail %q, want it to start %q", cluster.Detail, want)
	}

	users := lookup.Run(ctx, runbooks.LookupOSUsers, lookup.Inputs{})
	if c := users.Choices[0]; c.Value != "root" || !strings.HasPrefix(c.Detail, "uid 0 · /root · ") {
		t.Errorf("os-users does not start with root: %+v", users.Choices[:min(3, len(users.Choices))])
	}
	if c := find(t, users, "postgres"); !strings.Contains(c.Detail, "/var/lib/postgresql") {
		t.Errorf("postgres account: %+v", c)
	}
}
