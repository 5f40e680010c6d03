package plan

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
)

// TestPlanReplicateShowsWhatItRuns: the replicate strategy's plan names, in order, what its
// preparation and its window do that an engineer must see before approving it — including what a
// kind does only sometimes (a resumed apply's clean-up, a refusal's reads), the extension comparison
// made before anything is created, and the sync wait's guard at 80 % of slot-wal-limit-mb.
func TestPlanReplicateShowsWhatItRuns(t *testing.T) {
	args := []string{"rds-encrypt", "-p", "strategy=replicate", "-p", "instance=app-db", "-p", "kms-key=alias/x", "-p", "credentials-secret=y", "-p", "slot-wal-limit-mb=2048"}
	out, _, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": t.TempDir()}, NewCmdPlan, args...)
	if err != nil {
		t.Fatal(err)
	}
	at := 0
	for _, want := range []string{
		"SELECT e.extname, e.extversion, a.default_version FROM pg_extension e", // preflight: what the target must offer
		"ALTER TABLE <each such table> REPLICA IDENTITY FULL;",
		"rds DescribeDBParameterGroups\n  DBParameterGroupName: app-db-logical  (absent, or this run's copy",
		"rds DescribeDBParameters\n",
		"ParameterName=max_slot_wal_keep_size, ParameterValue=2048, ApplyMethod=immediate",
		"rds DescribeDBInstances\n  DBInstanceIdentifier: app-db  (ParameterApplyStatus: nothing to do when in-sync)\nrds RebootDBInstance",
		"rds CreateDBInstance",
		"SELECT name, version FROM pg_available_extension_versions   -- blocked, every one listed",
		"GRANT rds_replication TO CURRENT_USER;",
		"CREATE PUBLICATION cairn_<run id> FOR ALL TABLES;",
		"SELECT pg_drop_replication_slot('cairn_<run id>_<db oid>');",
		"DROP DATABASE IF EXISTS <db> WITH (FORCE);",
		"CREATE SUBSCRIPTION cairn_<run id>_<db oid>",
		"stop if a slot is lost or keeps 1.6 GiB, 80 % of slot-wal-limit-mb 2048 MB (the source's max_slot_wal_keep_size)",
		"ALTER ROLE <each application role> CONNECTION LIMIT 0",
		"NewDBInstanceIdentifier: app-db-unencrypted",
	} {
		i := strings.Index(out[at:], want)
		if i < 0 {
			t.Fatalf("the replicate plan lacks, after byte %d, %q:\n%s", at, want, out)
		}
		at += i + len(want)
	}
}
