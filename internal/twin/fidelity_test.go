package twin_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// TestFidelity holds the twin to what real RDS for PostgreSQL shows where a rehearsal looks (see
// ../shared/notes/rds-facts.md): one twin and one instance, probed from inside as its master user.
func TestFidelity(t *testing.T) {
	t.Parallel()
	s, c := startTwin(t, testbed.TempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	pw := "fidelity-pass-1"
	inst := createInstance(t, ctx, c, "fid-db", pw, nil)
	// As a client of RDS for PostgreSQL 15 connects (rds.force_ssl is 1): TLS verified against the CA.
	tls := "sslmode=verify-full sslrootcert=" + pgcluster.QuoteValue(s.CABundle())
	dsn := func(db string) string {
		return fmt.Sprintf("host=%s port=%d dbname=%s user=master password=%s %s",
			*inst.Endpoint.Address, *inst.Endpoint.Port, db, pgcluster.QuoteValue(pw), tls)
	}
	plain := func(db string) string { return strings.Replace(dsn(db), tls, "sslmode=disable", 1) }

	t.Run("master sees", func(t *testing.T) {
		conn, err := pgx.Connect(ctx, dsn("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		owners := map[string]string{}
		rows, _ := conn.Query(ctx, "SELECT datname, pg_get_userbyid(datdba), coalesce(datacl::text, '') FROM pg_database")
		var acl string
		for rows.Next() {
			var db, owner, a string
			if err := rows.Scan(&db, &owner, &a); err != nil {
				t.Fatal(err)
			}
			owners[db] = owner
			if db == "rdsadmin" {
				acl = a
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		want := map[string]string{"postgres": "master", "template1": "master", "template0": "rdsadmin", "rdsadmin": "rdsadmin", "app": "master"}
		if fmt.Sprint(owners) != fmt.Sprint(want) {
			t.Errorf("database owners = %v, want %v (as on RDS)", owners, want)
		}
		if acl != "{rdsadmin=CTc/rdsadmin}" {
			t.Errorf("rdsadmin's ACL = %q, want {rdsadmin=CTc/rdsadmin}", acl)
		}
		if psql, err := exec.LookPath("psql"); err == nil {
			out, err := exec.CommandContext(ctx, psql, "-X", "-l", "-d", dsn("postgres")).CombinedOutput()
			if err != nil || !strings.Contains(string(out), "rdsadmin") {
				t.Errorf("psql -l: %v\n%s", err, out)
			}
		}
		if c, err := pgx.Connect(ctx, dsn("rdsadmin")); err == nil {
			c.Close(context.Background())
			t.Error("the master connected to rdsadmin; RDS refuses it")
		} else if !strings.Contains(err.Error(), "permission denied for database") {
			t.Errorf("connect to rdsadmin: %v, want permission denied", err)
		}
		for _, q := range []string{
			"CREATE TABLE public.probe (id int PRIMARY KEY)",
			"CREATE ROLE replicator LOGIN PASSWORD 'replicator-pass-1'",
			"GRANT rds_replication TO replicator",
			"ALTER ROLE replicator CONNECTION LIMIT 10 PASSWORD 'replicator-pass-1'",
			"GRANT rds_password TO replicator",
			"CREATE EXTENSION pg_stat_statements",
			"SELECT count(*) FROM pg_stat_statements",
		} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Errorf("as the master, %s: %v (RDS allows it)", q, err)
			}
		}
		var ssl, preload string
		if err := conn.QueryRow(ctx, "SELECT current_setting('rds.force_ssl'), current_setting('shared_preload_libraries')").Scan(&ssl, &preload); err != nil {
			t.Errorf("rds.force_ssl: %v", err)
		} else if ssl != "1" || !strings.Contains(preload, "pg_stat_statements") {
			t.Errorf("rds.force_ssl = %q, shared_preload_libraries = %q; want 1 (RDS for PostgreSQL 15's default) and pg_stat_statements", ssl, preload)
		}
		if c, err := pgx.Connect(ctx, plain("postgres")); err == nil {
			c.Close(context.Background())
			t.Error("a connection without TLS got in while rds.force_ssl is 1")
		} else if !strings.Contains(err.Error(), "no encryption") {
			t.Errorf("a connection without TLS: %v, want RDS's pg_hba refusal (no encryption)", err)
		}
		// The master is still no superuser: an untrusted language stays out of reach.
		if _, err := conn.Exec(ctx, "CREATE EXTENSION plpython3u"); err == nil || !strings.Contains(err.Error(), "permission denied") {
			t.Errorf("CREATE EXTENSION plpython3u as the master: %v, want permission denied", err)
		}
	})
	var probe *pgx.Conn          // the master's connection, once its password is reset
	var pitr rdstypes.DBInstance // fid-db's point-in-time restore, once made
	var serverVersion string
	t.Cleanup(func() {
		if probe != nil {
			probe.Close(context.Background())
		}
	})
	t.Run("modify and the windows", func(t *testing.T) {
		// A master-password reset takes effect: the old password fails, the new one works.
		const newPW = "fidelity-pass-2"
		out, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("fid-db"), MasterUserPassword: aws.String(newPW)})
		if err != nil {
			t.Fatal(err)
		}
		if p := out.DBInstance.PendingModifiedValues; p == nil || aws.ToString(p.MasterUserPassword) != "****" {
			t.Errorf("PendingModifiedValues after a password reset = %+v, want MasterUserPassword ****", p)
		}
		inst = waitAvailable(t, ctx, c, "fid-db")
		if c, err := pgx.Connect(ctx, dsn("postgres")); err == nil {
			c.Close(context.Background())
			t.Error("the old master password still works after the reset")
		}
		pw = newPW
		var err2 error
		probe, err2 = pgx.Connect(ctx, dsn("postgres"))
		if err2 != nil {
			t.Fatalf("the new master password does not work: %v", err2)
		}
		if err := probe.QueryRow(ctx, "SELECT split_part(current_setting('server_version'), ' ', 1)").Scan(&serverVersion); err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(inst.EngineVersion); got != serverVersion {
			t.Errorf("EngineVersion = %s, server_version = %s", got, serverVersion)
		}
		if got := aws.ToString(inst.StorageType); got != "gp3" {
			t.Errorf("default StorageType = %s, want gp3", got)
		}

		// Without ApplyImmediately a class change waits in PendingModifiedValues for the window.
		out, err = c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("FID-DB"), DBInstanceClass: aws.String("db.t3.small")})
		if err != nil {
			t.Fatal(err)
		}
		if p := out.DBInstance.PendingModifiedValues; p == nil || aws.ToString(p.DBInstanceClass) != "db.t3.small" || aws.ToString(out.DBInstance.DBInstanceClass) != "db.t3.micro" {
			t.Fatalf("deferred class change answered class %s, pending %+v", aws.ToString(out.DBInstance.DBInstanceClass), p)
		}
		if d := waitAvailable(t, ctx, c, "fid-db"); aws.ToString(d.DBInstanceClass) != "db.t3.micro" || aws.ToString(d.PendingModifiedValues.DBInstanceClass) != "db.t3.small" {
			t.Fatalf("before the window: class %s, pending %s", aws.ToString(d.DBInstanceClass), aws.ToString(d.PendingModifiedValues.DBInstanceClass))
		}
		// A week passes: the backup windows (retention 1 day) and the maintenance window with it.
		if _, err := s.AdvanceClock(8 * 24 * time.Hour); err != nil {
			t.Fatal(err)
		}
		for {
			d := waitAvailable(t, ctx, c, "fid-db")
			if aws.ToString(d.DBInstanceClass) == "db.t3.small" && d.PendingModifiedValues.DBInstanceClass == nil {
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("after the maintenance window: class %s, pending %s", aws.ToString(d.DBInstanceClass), aws.ToString(d.PendingModifiedValues.DBInstanceClass))
			}
			time.Sleep(100 * time.Millisecond)
		}
		ev, err := c.rds.DescribeEvents(ctx, &awsrds.DescribeEventsInput{SourceType: rdstypes.SourceTypeDbInstance, SourceIdentifier: aws.String("fid-db"), Duration: aws.Int32(20000)})
		if err != nil {
			t.Fatal(err)
		}
		var msgs []string
		for _, e := range ev.Events {
			msgs = append(msgs, aws.ToString(e.Message))
		}
		for _, want := range []string{"DB instance created", "Reset master credentials", "Backing up DB instance", "Applying modification to database instance class", "Finished applying modification to DB instance class"} {
			if !slices.Contains(msgs, want) {
				t.Errorf("events %q lack %q", msgs, want)
			}
		}
		snaps, err := c.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String("fid-db"), SnapshotType: aws.String("automated")})
		if err != nil || len(snaps.DBSnapshots) == 0 {
			t.Fatalf("automated snapshots after the backup window: %v, %v", snaps, err)
		}
		if id := aws.ToString(snaps.DBSnapshots[0].DBSnapshotIdentifier); !strings.HasPrefix(id, "rds:fid-db-") {
			t.Errorf("automated snapshot id %s, want rds:fid-db-…", id)
		} else if _, err := c.rds.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: &id}); err == nil || !strings.Contains(err.Error(), "Only manual snapshots may be deleted") {
			t.Errorf("delete automated snapshot: %v, want InvalidDBSnapshotState", err)
		}

		// With ApplyImmediately it goes through modifying at once; CLI cases below see the rest.
		if _, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("fid-db"), DBInstanceClass: aws.String("db.t3.medium"), ApplyImmediately: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		if d := waitAvailable(t, ctx, c, "fid-db"); aws.ToString(d.DBInstanceClass) != "db.t3.medium" {
			t.Errorf("class after an immediate change = %s", aws.ToString(d.DBInstanceClass))
		}
	})

	t.Run("parameter groups and reboot", func(t *testing.T) {
		clis := awsCLIs()
		if len(clis) == 0 {
			t.Skip("no AWS CLI")
		}
		// As AWS's guide to logical replication on RDS for PostgreSQL has it.
		runCases(t, ctx, clis[0], s.Endpoint(), s.Env(), []cliCase{
			{args: []string{"rds", "create-db-parameter-group", "--db-parameter-group-name", "fid-logical", "--db-parameter-group-family", "postgres15",
				"--description", "logical replication"}, want: map[string]string{"DBParameterGroup.DBParameterGroupName": "fid-logical"}},
			{args: []string{"rds", "modify-db-parameter-group", "--db-parameter-group-name", "fid-logical",
				"--parameters", "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"}, want: map[string]string{"DBParameterGroupName": "fid-logical"}},
			{args: []string{"rds", "modify-db-instance", "--db-instance-identifier", "fid-db", "--db-parameter-group-name", "fid-logical", "--apply-immediately"},
				want: map[string]string{"DBInstance.DBParameterGroups.0.ParameterApplyStatus": "pending-reboot"}},
			{args: []string{"rds", "add-tags-to-resource", "--resource-name", "arn:aws:rds:us-east-1:000000000000:db:fid-db", "--tags", "Key=team,Value=dba"}},
		})
		var level string
		if err := probe.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil || level == "logical" {
			t.Fatalf("wal_level before the reboot = %q, %v; want it unchanged until the reboot", level, err)
		}
		out, err := c.rds.RebootDBInstance(ctx, &awsrds.RebootDBInstanceInput{DBInstanceIdentifier: aws.String("fid-db")})
		if err != nil || aws.ToString(out.DBInstance.DBInstanceStatus) != "rebooting" {
			t.Fatalf("reboot: %v, %v", out, err)
		}
		waitAvailable(t, ctx, c, "fid-db")
		conn, err := pgx.Connect(ctx, dsn("postgres"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		// rds.force_ssl is dynamic: 0 in the instance's group lets a plain connection in at once.
		if _, err := c.rds.ModifyDBParameterGroup(ctx, &awsrds.ModifyDBParameterGroupInput{DBParameterGroupName: aws.String("fid-logical"),
			Parameters: []rdstypes.Parameter{{ParameterName: aws.String("rds.force_ssl"), ParameterValue: aws.String("0"), ApplyMethod: rdstypes.ApplyMethodImmediate}}}); err != nil {
			t.Fatal(err)
		}
		// As on RDS, an immediate change reaches the server shortly after the call answers.
		for {
			c, err := pgx.Connect(ctx, plain("postgres"))
			if err == nil {
				c.Close(context.Background())
				break
			}
			if ctx.Err() != nil {
				t.Fatalf("without TLS after rds.force_ssl=0: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		var logical, senders, slots string
		if err := conn.QueryRow(ctx, "SELECT current_setting('wal_level'), current_setting('max_wal_senders'), current_setting('max_replication_slots')").Scan(&logical, &senders, &slots); err != nil {
			t.Fatal(err)
		}
		if logical != "logical" || senders != "20" || slots != "20" {
			t.Errorf("after the reboot wal_level=%s max_wal_senders=%s max_replication_slots=%s, want logical, 20, 20", logical, senders, slots)
		}
		for _, q := range []string{"GRANT rds_replication TO master", "CREATE TABLE pub_items (id int PRIMARY KEY)", "CREATE PUBLICATION fid_pub FOR TABLE pub_items",
			"INSERT INTO pub_items VALUES (42)"} {
			if _, err := conn.Exec(ctx, q); err != nil {
				t.Errorf("as the master, %s: %v", q, err)
			}
		}

		// The cut-back's fallback: a point-in-time restore to the latest restorable time has the row
		// just written.
		if _, err := c.rds.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String("fid-db"),
			TargetDBInstanceIdentifier: aws.String("fid-pitr"), UseLatestRestorableTime: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
		pitr = waitAvailable(t, ctx, c, "fid-pitr")
		pconn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d dbname=postgres user=master password=%s %s",
			*pitr.Endpoint.Address, *pitr.Endpoint.Port, pgcluster.QuoteValue(pw), tls))
		if err != nil {
			t.Fatal(err)
		}
		defer pconn.Close(context.Background())
		var n int
		if err := pconn.QueryRow(ctx, "SELECT count(*) FROM pub_items WHERE id = 42").Scan(&n); err != nil || n != 1 {
			t.Errorf("the point-in-time restore has %d of the row written before it (%v), want 1", n, err)
		}
		if _, err := c.rds.RestoreDBInstanceToPointInTime(ctx, &awsrds.RestoreDBInstanceToPointInTimeInput{SourceDBInstanceIdentifier: aws.String("fid-db"),
			TargetDBInstanceIdentifier: aws.String("fid-pitr-2"), RestoreTime: aws.Time(time.Now().Add(-time.Hour))}); err == nil || !strings.Contains(err.Error(), "latest restorable time only") {
			t.Errorf("a restore to an earlier time: %v, want the twin's refusal with its reason", err)
		}

		// What the read calls below look at: two keys, an alias, a role.
		for n := range 2 {
			k, err := c.kms.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("fidelity")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.kms.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String(fmt.Sprintf("alias/fid-%d", n+1)), TargetKeyId: k.KeyMetadata.KeyId}); err != nil {
				t.Fatal(err)
			}
		}
		iamc := awsiam.NewFromConfig(twin.AWSConfig(), func(o *awsiam.Options) { o.BaseEndpoint = aws.String(s.Endpoint()) })
		if _, err := iamc.CreateRole(ctx, &awsiam.CreateRoleInput{RoleName: aws.String("fid-role"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("logical replication as the master", func(t *testing.T) {
		if pitr.Endpoint == nil {
			t.Skip("needs fid-db rebooted with rds.logical_replication=1 and its point-in-time restore")
		}
		pitrDSN := func(user, password string) string {
			return fmt.Sprintf("host=%s port=%d dbname=postgres user=%s password=%s %s",
				*pitr.Endpoint.Address, *pitr.Endpoint.Port, user, pgcluster.QuoteValue(password), tls)
		}
		pub, sub := connectDSN(t, ctx, dsn("postgres")), connectDSN(t, ctx, pitrDSN("master", pw))
		mustExec := func(conn *pgx.Conn, qs ...string) {
			t.Helper()
			for _, q := range qs {
				if _, err := conn.Exec(ctx, q); err != nil {
					t.Fatalf("as %s, %s: %v (RDS allows it)", conn.Config().User, q, err)
				}
			}
		}
		// As AWS's guide has it: a publication for all tables on the source, a subscription on the
		// target naming the source's endpoint, both by the master user.
		mustExec(pub, "CREATE TABLE flow (id int PRIMARY KEY, note text)", "CREATE PUBLICATION fid_all FOR ALL TABLES")
		mustExec(sub, "CREATE TABLE flow (id int PRIMARY KEY, note text)")
		conninfo := fmt.Sprintf("host=%s port=%d dbname=postgres user=master password=%s", *inst.Endpoint.Address, *inst.Endpoint.Port, pw)
		mustExec(sub, "CREATE SUBSCRIPTION fid_sub CONNECTION '"+conninfo+"' PUBLICATION fid_all WITH (copy_data = false)")
		mustExec(pub, "INSERT INTO flow VALUES (1, 'flows')")
		var note string
		for ctx.Err() == nil {
			if err := sub.QueryRow(ctx, "SELECT note FROM flow WHERE id = 1").Scan(&note); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if note != "flows" {
			t.Fatalf("the row inserted on fid-db never reached fid-pitr through the subscription (note %q)", note)
		}
		var pubOwner, subOwner string
		if err := pub.QueryRow(ctx, "SELECT pubowner::regrole::text FROM pg_publication WHERE pubname = 'fid_all'").Scan(&pubOwner); err != nil || pubOwner != "master" {
			t.Errorf("fid_all's owner = %q (%v), want master", pubOwner, err)
		}
		if err := sub.QueryRow(ctx, "SELECT subowner::regrole::text FROM pg_subscription WHERE subname = 'fid_sub'").Scan(&subOwner); err != nil || subOwner != "master" {
			t.Errorf("fid_sub's owner = %q (%v), want master", subOwner, err)
		}
		// The cut-over's teardown, as the master; then the slot left on the source.
		mustExec(sub, "ALTER SUBSCRIPTION fid_sub DISABLE", "ALTER SUBSCRIPTION fid_sub SET (slot_name = NONE)", "DROP SUBSCRIPTION fid_sub")
		// DISABLE ends the apply worker asynchronously, and the publisher's walsender holds the slot
		// until it notices: wait for the slot to go inactive, as the cut-over does, before dropping it.
		for active := true; active && ctx.Err() == nil; {
			if err := pub.QueryRow(ctx, "SELECT active FROM pg_replication_slots WHERE slot_name = 'fid_sub'").Scan(&active); err != nil {
				t.Fatalf("read fid_sub's slot on fid-db: %v", err)
			}
			if active {
				time.Sleep(50 * time.Millisecond)
			}
		}
		mustExec(pub, "SELECT pg_drop_replication_slot('fid_sub')", "DROP PUBLICATION fid_all")
		// A member of rds_replication (granted by the master above) manages slots.
		repl := connectDSN(t, ctx, strings.Replace(dsn("postgres"), "user=master password="+pgcluster.QuoteValue(pw), "user=replicator password=replicator-pass-1", 1))
		mustExec(repl, "SELECT pg_create_logical_replication_slot('fid_slot', 'pgoutput')", "SELECT pg_drop_replication_slot('fid_slot')")

		// Nothing more: a subscription must reach its publisher over TCP with a password, and a role
		// outside rds_superuser and rds_replication gets stock PostgreSQL's refusals.
		for q, want := range map[string]string{
			"CREATE SUBSCRIPTION fid_sock CONNECTION 'host=/var/run/postgresql user=rdsadmin password=x dbname=postgres' PUBLICATION fid_all": "must connect over TCP",
			"CREATE SUBSCRIPTION fid_nopw CONNECTION 'host=127.0.0.1 port=1 user=rdsadmin dbname=postgres' PUBLICATION fid_all":               "password is required",
		} {
			if _, err := sub.Exec(ctx, q); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("as the master, %s: %v, want %q", q, err, want)
			}
		}
		mustExec(pub, "CREATE ROLE fid_plain LOGIN PASSWORD 'plain-pass-1'", "GRANT CREATE ON DATABASE postgres TO fid_plain")
		mustExec(sub, "CREATE ROLE fid_plain LOGIN PASSWORD 'plain-pass-1'", "GRANT CREATE ON DATABASE postgres TO fid_plain")
		plainPub := connectDSN(t, ctx, strings.Replace(dsn("postgres"), "user=master password="+pgcluster.QuoteValue(pw), "user=fid_plain password=plain-pass-1", 1))
		plainSub := connectDSN(t, ctx, pitrDSN("fid_plain", "plain-pass-1"))
		for _, r := range []struct {
			conn    *pgx.Conn
			q, want string
		}{
			{plainPub, "CREATE PUBLICATION fid_plain_all FOR ALL TABLES", "must be superuser to create FOR ALL TABLES publication"},
			{plainSub, "CREATE SUBSCRIPTION fid_plain_sub CONNECTION '" + conninfo + "' PUBLICATION fid_pub WITH (connect = false)", "must be superuser to create subscriptions"},
			{plainPub, "SELECT pg_create_logical_replication_slot('fid_plain_slot', 'pgoutput')", "must be superuser or replication role"},
		} {
			if _, err := r.conn.Exec(ctx, r.q); err == nil || !strings.Contains(err.Error(), r.want) {
				t.Errorf("as fid_plain (no rds_superuser), %s: %v, want %q", r.q, err, r.want)
			}
		}
	})

	// What an engineer rehearsing the migration types, and what a script reads from the answers.
	cases := []cliCase{
		{args: []string{"sts", "get-caller-identity"}, want: map[string]string{"Account": "000000000000"}},
		{args: []string{"secretsmanager", "create-secret", "--name", "fid/master", "--secret-string", `{"username":"master"}`}, want: map[string]string{"Name": "fid/master"}, once: true},
		{args: []string{"secretsmanager", "put-secret-value", "--secret-id", "fid/master", "--secret-string", `{"username":"master","password":"x"}`}, want: map[string]string{"VersionStages.0": "AWSCURRENT"}, once: true},
		{args: []string{"secretsmanager", "list-secrets"}, want: map[string]string{"#SecretList": "1", "SecretList.0.Name": "fid/master", "#SecretList.0.SecretVersionsToStages": "2"}},
		{args: []string{"secretsmanager", "list-secrets", "--filters", "Key=name,Values=other/"}, want: map[string]string{"#SecretList": "0"}},
		{args: []string{"secretsmanager", "list-secret-version-ids", "--secret-id", "fid/master"}, want: map[string]string{"#Versions": "2", "Name": "fid/master"}},
		{args: []string{"secretsmanager", "list-secret-version-ids", "--secret-id", "fid/none"}, err: "ResourceNotFoundException", msg: "can't find the specified secret"},
		{args: []string{"rds", "describe-db-instances", "--db-instance-identifier", "FID-DB"}, want: map[string]string{"#DBInstances": "1",
			"DBInstances.0.DBInstanceIdentifier": "fid-db", "DBInstances.0.StorageType": "gp3", "DBInstances.0.DBInstanceClass": "db.t3.medium"}},
		{args: []string{"rds", "create-db-instance", "--db-instance-identifier", "FID-DB", "--engine", "postgres", "--db-instance-class", "db.t3.micro",
			"--allocated-storage", "20", "--master-username", "master", "--master-user-password", "long-enough-1"}, err: "DBInstanceAlreadyExists"},
		{args: []string{"rds", "create-db-instance", "--db-instance-identifier", "fid-small", "--engine", "postgres", "--db-instance-class", "db.t3.micro",
			"--allocated-storage", "5", "--master-username", "master", "--master-user-password", "long-enough-1"},
			err: "InvalidParameterValue", msg: "Invalid storage size for engine name postgres and storage type gp3: 5"},
		{args: []string{"rds", "create-db-instance", "--db-instance-identifier", "fid-bogus", "--engine", "postgres", "--db-instance-class", "db.bogus.huge",
			"--allocated-storage", "20", "--master-username", "master", "--master-user-password", "long-enough-1"},
			err: "InvalidParameterCombination", msg: "RDS does not support creating a DB instance with the following combination: DBInstanceClass=db.bogus.huge"},
		{args: []string{"rds", "create-db-instance", "--db-instance-identifier", "fid-old", "--engine", "postgres", "--engine-version", "9.6.1", "--db-instance-class", "db.t3.micro",
			"--allocated-storage", "20", "--master-username", "master", "--master-user-password", "long-enough-1"},
			err: "InvalidParameterCombination", msg: "Cannot find version 9.6.1 for postgres"},
		{args: []string{"rds", "describe-events", "--source-type", "db-instance", "--source-identifier", "fid-db", "--duration", "20000"}, want: map[string]string{"Events.0.Message": "DB instance created"}},
		{args: []string{"rds", "describe-db-snapshots", "--snapshot-type", "automated"}, want: map[string]string{"DBSnapshots.0.SnapshotType": "automated", "DBSnapshots.0.DBInstanceIdentifier": "fid-db"}},
		{args: []string{"rds", "create-db-instance", "--db-instance-identifier", "fid-short", "--engine", "postgres", "--db-instance-class", "db.t3.micro",
			"--allocated-storage", "20", "--master-username", "master", "--master-user-password", "short-1"},
			err: "InvalidParameterValue", msg: "The parameter MasterUserPassword is not a valid password because it is shorter than 8 characters."},
	}
	cases = append(cases,
		cliCase{args: []string{"rds", "describe-db-parameter-groups"}, want: map[string]string{"DBParameterGroups.0.DBParameterGroupName": "default.postgres15", "DBParameterGroups.1.DBParameterGroupName": "fid-logical"}},
		cliCase{args: []string{"rds", "describe-db-parameters", "--db-parameter-group-name", "fid-logical", "--source", "user"},
			want: map[string]string{"#Parameters": "2", "Parameters.0.ParameterName": "rds.force_ssl", "Parameters.0.ParameterValue": "0", "Parameters.0.ApplyType": "dynamic",
				"Parameters.1.ParameterName": "rds.logical_replication", "Parameters.1.ParameterValue": "1", "Parameters.1.ApplyType": "static"}},
		cliCase{args: []string{"rds", "describe-db-parameters", "--db-parameter-group-name", "default.postgres15", "--query", "Parameters[?ParameterName=='rds.force_ssl']"},
			want: map[string]string{"0.ParameterValue": "1", "0.ApplyType": "dynamic"}},
		cliCase{args: []string{"rds", "describe-db-parameters", "--db-parameter-group-name", "default.postgres15", "--max-records", "20"}, want: map[string]string{"#Parameters": "20", "Marker": "*"}},
		cliCase{args: []string{"rds", "modify-db-parameter-group", "--db-parameter-group-name", "default.postgres15", "--parameters", "ParameterName=rds.logical_replication,ParameterValue=1,ApplyMethod=pending-reboot"},
			err: "InvalidParameterValue", msg: "Cannot modify a default parameter group."},
		cliCase{args: []string{"rds", "modify-db-parameter-group", "--db-parameter-group-name", "fid-logical", "--parameters", "ParameterName=wal_level,ParameterValue=logical,ApplyMethod=immediate"},
			err: "InvalidParameterCombination", msg: "cannot use immediate apply method for static parameter"},
		cliCase{args: []string{"rds", "describe-db-parameter-groups", "--db-parameter-group-name", "nope"}, err: "DBParameterGroupNotFound", msg: "DBParameterGroup not found: nope"},
		cliCase{args: []string{"rds", "list-tags-for-resource", "--resource-name", "arn:aws:rds:us-east-1:000000000000:db:fid-db"}, want: map[string]string{"TagList.0.Key": "team", "TagList.0.Value": "dba"}},
		cliCase{args: []string{"rds", "describe-db-subnet-groups"}, want: map[string]string{"DBSubnetGroups.0.DBSubnetGroupName": "default", "DBSubnetGroups.0.VpcId": "*", "#DBSubnetGroups.0.Subnets": "2"}},
		cliCase{args: []string{"rds", "describe-db-engine-versions", "--engine", "postgres", "--default-only"}, want: map[string]string{"DBEngineVersions.0.DBParameterGroupFamily": "postgres15", "DBEngineVersions.0.EngineVersion": serverVersion}},
		cliCase{args: []string{"rds", "describe-db-snapshots", "--db-snapshot-identifier", "nope"}, err: "DBSnapshotNotFound", msg: "DBSnapshot not found: nope"},
		cliCase{args: []string{"kms", "list-keys", "--limit", "1"}, want: map[string]string{"#Keys": "1", "Truncated": "true", "NextMarker": "*"}},
		cliCase{args: []string{"kms", "list-aliases"}, want: map[string]string{"#Aliases": "2"}},
		cliCase{args: []string{"kms", "get-key-policy", "--key-id", "alias/fid-1", "--policy-name", "default"}, want: map[string]string{"Policy": "*"}},
		cliCase{args: []string{"kms", "get-key-rotation-status", "--key-id", "alias/fid-1"}, want: map[string]string{"KeyRotationEnabled": "false"}},
		cliCase{args: []string{"kms", "get-key-policy", "--key-id", "alias/nope", "--policy-name", "default"}, err: "NotFoundException"},
		cliCase{args: []string{"iam", "list-roles"}, want: map[string]string{"Roles.0.RoleName": "fid-role", "Roles.0.Arn": "arn:aws:iam::000000000000:role/fid-role"}},
		cliCase{args: []string{"rds", "describe-db-instances", "--db-instance-identifier", "fid-pitr"}, want: map[string]string{"DBInstances.0.DBParameterGroups.0.DBParameterGroupName": "default.postgres15",
			"DBInstances.0.VpcSecurityGroups.0.VpcSecurityGroupId": "sg-0cairn0default00"}},
		cliCase{args: []string{"rds", "describe-db-instances", "--db-instance-identifier", "fid-db"}, want: map[string]string{"DBInstances.0.DBParameterGroups.0.DBParameterGroupName": "fid-logical",
			"DBInstances.0.LatestRestorableTime":                     "*",
			"DBInstances.0.DBParameterGroups.0.ParameterApplyStatus": "in-sync", "DBInstances.0.EngineVersion": serverVersion}},
	)
	for n, cli := range awsCLIs() {
		t.Run("aws cli "+cli.name, func(t *testing.T) {
			var run []cliCase
			for _, c := range cases {
				if !c.once || n == 0 {
					run = append(run, c)
				}
			}
			runCases(t, ctx, cli, s.Endpoint(), s.Env(), run)
		})
	}
}

// TestEndpointsFollowNames holds one connection string across a rename swap: it reaches the
// instance that holds the name at the time, and nothing while none does.
func TestEndpointsFollowNames(t *testing.T) {
	t.Parallel()
	_, c := startTwin(t, testbed.TempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const pw = "endpoint-pass-1"
	old := createInstance(t, ctx, c, "ep-app", pw, nil)
	createInstance(t, ctx, c, "ep-new", pw, nil)
	for id, mark := range map[string]string{"ep-app": "old", "ep-new": "new"} {
		i := waitAvailable(t, ctx, c, id)
		if _, err := connect(t, ctx, i, pw).Exec(ctx, "CREATE TABLE which AS SELECT '"+mark+"'::text AS instance"); err != nil {
			t.Fatal(err)
		}
	}
	held := fmt.Sprintf("host=%s port=%d dbname=app user=master password=%s sslmode=require connect_timeout=5",
		*old.Endpoint.Address, *old.Endpoint.Port, pgcluster.QuoteValue(pw))
	which := func() (string, error) {
		conn, err := pgx.Connect(ctx, held)
		if err != nil {
			return "", err
		}
		defer conn.Close(context.Background())
		var w string
		err = conn.QueryRow(ctx, "SELECT instance FROM which").Scan(&w)
		return w, err
	}
	if w, err := which(); err != nil || w != "old" {
		t.Fatalf("before the swap ep-app's endpoint reached %q (%v), want old", w, err)
	}
	rename := func(from, to string) {
		t.Helper()
		if _, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: &from, NewDBInstanceIdentifier: &to, ApplyImmediately: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	// As on AWS the new name answers only after a while: poll until it does.
	waitRenamed := func(id string) rdstypes.DBInstance {
		t.Helper()
		for ctx.Err() == nil {
			if _, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id}); err == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		return waitAvailable(t, ctx, c, id)
	}
	rename("ep-app", "ep-app-old")
	if w, err := which(); err == nil {
		t.Fatalf("while no instance holds ep-app its endpoint reached %q, want it refused", w)
	}
	waitRenamed("ep-app-old")
	rename("ep-new", "ep-app")
	moved := waitRenamed("ep-app")
	if *moved.Endpoint.Port != *old.Endpoint.Port {
		t.Errorf("ep-app's endpoint port moved from %d to %d across the swap", *old.Endpoint.Port, *moved.Endpoint.Port)
	}
	if w, err := which(); err != nil || w != "new" {
		t.Fatalf("after the swap ep-app's endpoint reached %q (%v), want new", w, err)
	}
}

// runCases runs the cases' command lines with one CLI and checks each answer.
func runCases(t *testing.T, ctx context.Context, cli cliTool, endpoint string, env []string, cases []cliCase) {
	t.Helper()
	lines := make([][]string, len(cases))
	for n, c := range cases {
		lines[n] = append([]string{"--endpoint-url", endpoint, "--output", "json"}, c.args...)
	}
	for n, r := range runCLI(t, ctx, cli.python, env, lines) {
		cases[n].check(t, cli.name, r)
	}
}
