package pgdata

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// What pg_dumpall --globals-only --no-role-passwords prints as the master of an RDS-like instance.
const rdsGlobals = `--
-- PostgreSQL database cluster dump
--

SET default_transaction_read_only = off;

--
-- Roles
--

CREATE ROLE app_owner;
ALTER ROLE app_owner WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE app_rw;
ALTER ROLE app_rw WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 20;
ALTER ROLE app_rw SET statement_timeout TO '30s';
CREATE ROLE cairn_admin;
ALTER ROLE cairn_admin WITH NOSUPERUSER INHERIT CREATEROLE CREATEDB LOGIN NOREPLICATION NOBYPASSRLS VALID UNTIL 'infinity';
CREATE ROLE "Odd ""Name""";
ALTER ROLE "Odd ""Name""" WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE rds_superuser;
ALTER ROLE rds_superuser WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB NOLOGIN NOREPLICATION NOBYPASSRLS;
CREATE ROLE rdsadmin;
ALTER ROLE rdsadmin WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS VALID UNTIL 'infinity';
CREATE ROLE replicator;
ALTER ROLE replicator WITH NOSUPERUSER INHERIT NOCREATEROLE NOCREATEDB LOGIN REPLICATION NOBYPASSRLS;
COMMENT ON ROLE app_owner IS 'owns the shop schema';

--
-- Role memberships
--

GRANT app_owner TO cairn_admin GRANTED BY cairn_admin;
GRANT pg_monitor TO rds_superuser WITH ADMIN OPTION GRANTED BY rdsadmin;
GRANT rds_superuser TO cairn_admin GRANTED BY rdsadmin;

CREATE TABLESPACE fast OWNER rdsadmin LOCATION '/rdsdbdata/fast';
`

func TestFilterGlobalsKeepsWhatAMasterCanReplay(t *testing.T) {
	text, roles, skipped := FilterGlobals(rdsGlobals, "cairn_admin")
	if got := strings.Join(roles, ","); got != `app_owner,app_rw,Odd "Name",replicator` {
		t.Fatalf("roles: %s", got)
	}
	var live []string
	for _, l := range strings.Split(text, "\n") {
		if l != "" && !strings.HasPrefix(l, "--") {
			live = append(live, l)
		}
	}
	want := []string{
		"SET default_transaction_read_only = off;",
		"CREATE ROLE app_owner;",
		"ALTER ROLE app_owner WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN;",
		"CREATE ROLE app_rw;",
		"ALTER ROLE app_rw WITH INHERIT NOCREATEROLE NOCREATEDB LOGIN CONNECTION LIMIT 20;",
		"ALTER ROLE app_rw SET statement_timeout TO '30s';",
		`CREATE ROLE "Odd ""Name""";`,
		`ALTER ROLE "Odd ""Name""" WITH INHERIT NOCREATEROLE NOCREATEDB NOLOGIN;`,
		"CREATE ROLE replicator;",
		"COMMENT ON ROLE app_owner IS 'owns the shop schema';",
		"GRANT app_owner TO cairn_admin;",
	}
	if strings.Join(live, "\n") != strings.Join(want, "\n") {
		t.Fatalf("filtered globals:\n%s\n\nwant:\n%s", strings.Join(live, "\n"), strings.Join(want, "\n"))
	}
	all := strings.Join(skipped, "\n")
	for _, s := range []string{"rdsadmin", "rds_superuser", "cairn_admin WITH", "REPLICATION cannot be granted", "TABLESPACE"} {
		if !strings.Contains(all, s) {
			t.Errorf("skipped statements do not mention %q:\n%s", s, all)
		}
	}
	if !strings.Contains(text, "-- cairn: left out") {
		t.Error("skipped statements must stay in the file as comments")
	}
}

func TestCountFileMatchesPgDumpDataFiles(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{
		"1": "1\tone\n2\ttwo\\nstill two\n3\t\n\\.\n\n\n", // pg_dump 15's trailer, an escaped newline, an empty value
		"2": "\\.\n\n\n",                                  // an empty table
		"3": "x\ny\n",                                     // no trailer
	} {
		if err := os.WriteFile(filepath.Join(dir, name+".dat"), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for id, want := range map[string]int64{"1": 3, "2": 0, "3": 2} {
		n, err := countFile(dir, id)
		if err != nil || n != want {
			t.Errorf("file %s: %d rows (%v), want %d", id, n, err, want)
		}
	}
}

func TestCompareListsEveryDifference(t *testing.T) {
	want := Database{Name: "app", Rows: map[string]int64{"s.a": 1, "s.b": 2, "s.c": 3}, Checksums: map[string]string{"s.a": "x", "s.b": "y", "s.c": "z"}}
	got := compare(want, map[string]int64{"s.a": 1, "s.b": 5, "s.d": 0}, map[string]string{"s.a": "other", "s.b": "y"})
	if len(got) != 4 {
		t.Fatalf("want 4 differences (checksum, count, missing, extra), got %d: %v", len(got), got)
	}
}

func TestRoleAttrsInReadsTheFilteredFile(t *testing.T) {
	text, _, _ := FilterGlobals(rdsGlobals, "cairn_admin")
	got := roleAttrsIn(text)
	if a := got["app_rw"].String(); a != "LOGIN INHERIT NOCREATEROLE NOCREATEDB CONNECTION LIMIT 20" {
		t.Errorf("app_rw: %s", a)
	}
	if a := got[`Odd "Name"`].String(); a != "NOLOGIN INHERIT NOCREATEROLE NOCREATEDB CONNECTION LIMIT -1" {
		t.Errorf(`Odd "Name": %s`, a)
	}
	if _, ok := got["cairn_admin"]; ok {
		t.Error("the master's attributes are left out of the file, so they are not compared")
	}
}
