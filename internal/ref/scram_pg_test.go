package ref_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// On a real PostgreSQL: a role whose verifier cairn computed logs in with psql (libpq, as pgBackRest
// does) over TCP with scram-sha-256, whatever the password holds — a non-breaking space, ligatures,
// a soft hyphen, a character SASLprep prohibits —, and ScramMatches recognises the verifier the
// server itself computes from the same password (and refuses another password).
func TestScramLoginWithSASLprepOnPostgreSQL(t *testing.T) {
	if _, err := exec.LookPath("psql"); err != nil {
		t.Skip("psql not installed")
	}
	pg := testbed.Postgres(t)
	c := pg.Conn(t, "postgres", pg.Cluster.Superuser)
	ctx := context.Background()
	passwords := map[string]string{
		"nbsp":       "correct\u00a0horse battery",
		"ligature":   "\ufb01le\ufb02ow-\u2168",
		"softhyphen": "pass\u00adword-\u00e9",
		"prohibited": "bell\u0007-\u00e4",
		"ascii":      "plain-ascii-'quote\"",
	}
	for name, pw := range passwords {
		t.Run(name, func(t *testing.T) {
			role := "scram_" + name
			v, err := ref.ScramVerifier(pw)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD %s", role, ref.QuoteLiteral(v))); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command("psql", "-X", "-At", fmt.Sprintf("host=127.0.0.1 port=%d dbname=postgres user=%s sslmode=disable", pg.Port, role), "-c", "SELECT current_user")
			cmd.Env = append(os.Environ(), "PGPASSWORD="+pw, "PGPASSFILE=/nonexistent")
			if out, err := cmd.CombinedOutput(); err != nil || string(out) != role+"\n" {
				t.Fatalf("psql login as %s with the password cairn hashed: %v %s", role, err, out)
			}
			// The server's own verifier of the same password.
			if _, err := c.Exec(ctx, "SET password_encryption = 'scram-sha-256'; ALTER ROLE "+role+" PASSWORD "+ref.QuoteLiteral(pw)); err != nil {
				t.Fatal(err)
			}
			var server string
			if err := c.QueryRow(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = $1", role).Scan(&server); err != nil {
				t.Fatal(err)
			}
			if !ref.ScramMatches(server, pw) {
				t.Fatalf("ScramMatches does not recognise the server's verifier of %q", pw)
			}
			if ref.ScramMatches(server, pw+"x") {
				t.Fatal("ScramMatches accepted another password")
			}
		})
	}
}
