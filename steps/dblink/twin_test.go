package dblink_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// demoTwin is the twin a dblink contract test runs on (demo seed), with the port of its app-db.
type demoTwin struct {
	*testbed.TwinSDK
	port int32
}

// startTwin starts the twin for t. It needs root: the twin installs its aws_lambda stand-in into
// PostgreSQL's extension directory.
func startTwin(t *testing.T) *demoTwin {
	t.Helper()
	testbed.RequireRoot(t, "the twin installs its aws_lambda stand-in into PostgreSQL's extension directory")
	tb := testbed.StartTwinSDK(t)
	is, err := tb.RDS.DescribeDBInstances(context.Background(), &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
	if err != nil {
		t.Fatal(err)
	}
	return &demoTwin{TwinSDK: tb, port: aws.ToInt32(is.DBInstances[0].Endpoint.Port)}
}

// master opens the test's own connection to a database of app-db as the master user (verify-full
// against the twin's CA), closed when t ends.
func (d *demoTwin) master(t testing.TB, db string) *pgx.Conn {
	t.Helper()
	cfg, err := pgx.ParseConfig(fmt.Sprintf("host=127.0.0.1 port=%d dbname=%s sslmode=verify-full sslrootcert=%s", d.port, db, d.CABundle))
	if err != nil {
		t.Fatal(err)
	}
	cfg.User, cfg.Password = twin.DemoMaster, twin.DemoPassword
	c, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// query returns the one text value sql selects.
func query(t testing.TB, c *pgx.Conn, sql string) string {
	t.Helper()
	var s string
	if err := c.QueryRow(context.Background(), sql).Scan(&s); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return s
}

// exec runs sql.
func exec(t testing.TB, c *pgx.Conn, sql string) {
	t.Helper()
	if _, err := c.Exec(context.Background(), sql); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}
