package twin_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// awsCLI is the Debian awscli; a pyenv shim earlier on PATH may be another version.
const awsCLI = "/usr/bin/aws"

// TestAWSCLI runs the real AWS CLI against the twin for the lifecycle calls and checks its JSON.
func TestAWSCLI(t *testing.T) {
	t.Parallel()
	testbed.Require(t, "AWS CLI", func() error { _, err := os.Stat(awsCLI); return err })
	s, c := startTwin(t, testbed.TempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // a safety net: under load each CLI start takes seconds
	defer cancel()
	home := t.TempDir()
	run := func(args ...string) map[string]any {
		t.Helper()
		cmd := exec.CommandContext(ctx, awsCLI, append([]string{"--endpoint-url", s.Endpoint(), "--output", "json"}, args...)...)
		cmd.Env = append(s.Env(), "HOME="+home, "PATH=/usr/bin:/bin", "AWS_PAGER=")
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("aws %s: %v\n%s", strings.Join(args, " "), err, stderr)
		}
		var v map[string]any
		if len(strings.TrimSpace(string(out))) == 0 {
			return v
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("aws %s: not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
		return v
	}
	get := func(v any, path ...any) any {
		for _, p := range path {
			switch k := p.(type) {
			case string:
				v = v.(map[string]any)[k]
			case int:
				v = v.([]any)[k]
			}
		}
		return v
	}
	expect := func(what string, got, want any) {
		t.Helper()
		if got != want {
			t.Fatalf("%s = %v, want %v", what, got, want)
		}
	}

	// The CLI's waiters poll every 30 s; poll quickly first so each `aws rds wait` succeeds on its
	// first call (it still parses the answer as the CLI does).
	wait := func(waiter, flag, id string) {
		t.Helper()
		for ctx.Err() == nil {
			var status string
			var err error
			if strings.Contains(waiter, "snapshot") {
				var out *awsrds.DescribeDBSnapshotsOutput
				if out, err = c.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: &id}); err == nil {
					status = *out.DBSnapshots[0].Status
				}
			} else {
				var out *awsrds.DescribeDBInstancesOutput
				if out, err = c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id}); err == nil {
					status = *out.DBInstances[0].DBInstanceStatus
				}
			}
			if (strings.HasSuffix(waiter, "deleted") && err != nil) || status == "available" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		run("rds", "wait", waiter, flag, id)
	}
	expect("account", get(run("sts", "get-caller-identity"), "Account"), "000000000000")
	key := run("kms", "create-key", "--description", "cli")
	keyID := get(key, "KeyMetadata", "KeyId").(string)
	run("kms", "create-alias", "--alias-name", "alias/cli", "--target-key-id", keyID)
	expect("describe by alias", get(run("kms", "describe-key", "--key-id", "alias/cli"), "KeyMetadata", "KeyId"), keyID)

	created := run("rds", "create-db-instance", "--db-instance-identifier", "cli-db", "--engine", "postgres",
		"--db-instance-class", "db.t3.micro", "--master-username", "master", "--master-user-password", "cli-password-1",
		"--allocated-storage", "20", "--vpc-security-group-ids", "sg-0aaa", "sg-0bbb", "--tags", "Key=team,Value=dba", "--deletion-protection")
	expect("create status", get(created, "DBInstance", "DBInstanceStatus"), "creating")
	expect("second security group", get(created, "DBInstance", "VpcSecurityGroups", 1, "VpcSecurityGroupId"), "sg-0bbb")
	expect("tag", get(created, "DBInstance", "TagList", 0, "Value"), "dba")
	wait("db-instance-available", "--db-instance-identifier", "cli-db")
	desc := run("rds", "describe-db-instances", "--filters", "Name=db-instance-id,Values=cli-db")
	expect("status", get(desc, "DBInstances", 0, "DBInstanceStatus"), "available")
	expect("deletion protection", get(desc, "DBInstances", 0, "DeletionProtection"), true)
	if get(desc, "DBInstances", 0, "Endpoint", "Port").(float64) == 0 {
		t.Fatal("no endpoint port")
	}

	run("rds", "create-db-snapshot", "--db-instance-identifier", "cli-db", "--db-snapshot-identifier", "cli-snap")
	wait("db-snapshot-available", "--db-snapshot-identifier", "cli-snap")
	cp := run("rds", "copy-db-snapshot", "--source-db-snapshot-identifier", "cli-snap", "--target-db-snapshot-identifier", "cli-snap-enc", "--kms-key-id", "alias/cli")
	expect("copy encrypted", get(cp, "DBSnapshot", "Encrypted"), true)
	wait("db-snapshot-available", "--db-snapshot-identifier", "cli-snap-enc")
	snaps := run("rds", "describe-db-snapshots", "--db-instance-identifier", "cli-db")
	expect("snapshots of cli-db", len(get(snaps, "DBSnapshots").([]any)), 2)

	run("rds", "restore-db-instance-from-db-snapshot", "--db-instance-identifier", "cli-restored", "--db-snapshot-identifier", "cli-snap-enc")
	wait("db-instance-available", "--db-instance-identifier", "cli-restored")
	r := run("rds", "describe-db-instances", "--db-instance-identifier", "cli-restored")
	expect("restored encrypted", get(r, "DBInstances", 0, "StorageEncrypted"), true)
	expect("restored key", get(r, "DBInstances", 0, "KmsKeyId"), get(key, "KeyMetadata", "Arn"))
	expect("restored security group", get(r, "DBInstances", 0, "VpcSecurityGroups", 0, "VpcSecurityGroupId"), "sg-0cairn0default00")

	m := run("rds", "modify-db-instance", "--db-instance-identifier", "cli-restored", "--new-db-instance-identifier", "cli-renamed", "--apply-immediately")
	expect("pending new name", get(m, "DBInstance", "PendingModifiedValues", "DBInstanceIdentifier"), "cli-renamed")
	wait("db-instance-available", "--db-instance-identifier", "cli-renamed")
	d := run("rds", "delete-db-instance", "--db-instance-identifier", "cli-renamed", "--skip-final-snapshot")
	expect("deleting", get(d, "DBInstance", "DBInstanceStatus"), "deleting")
	wait("db-instance-deleted", "--db-instance-identifier", "cli-renamed")

	sec := run("secretsmanager", "create-secret", "--name", "cli/secret", "--secret-string", `{"password":"a\"b"}`)
	if !strings.HasPrefix(get(sec, "ARN").(string), "arn:aws:secretsmanager:us-east-1:000000000000:secret:cli/secret-") {
		t.Fatalf("secret ARN = %v", get(sec, "ARN"))
	}
	expect("secret value", get(run("secretsmanager", "get-secret-value", "--secret-id", "cli/secret"), "SecretString"), `{"password":"a\"b"}`)
}
