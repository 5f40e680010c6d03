package twin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/smithy-go"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// TestStopStart: a stopped instance refuses connections and a second stop, a start brings it back
// with its data, as StopDBInstance/StartDBInstance do on RDS.
func TestStopStart(t *testing.T) {
	t.Parallel()
	_, c := startTwin(t, testbed.TempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	const id, pw = "ss-app", "stopstart-pass-1"
	createInstance(t, ctx, c, id, pw, nil)
	inst := waitAvailable(t, ctx, c, id)
	if _, err := connect(t, ctx, inst, pw).Exec(ctx, "CREATE TABLE kept AS SELECT 42 AS n"); err != nil {
		t.Fatal(err)
	}
	dsn := fmt.Sprintf("host=%s port=%d dbname=app user=master password=%s sslmode=require connect_timeout=5",
		*inst.Endpoint.Address, *inst.Endpoint.Port, pgcluster.QuoteValue(pw))
	status := func() string {
		out, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.DBInstances[0].DBInstanceStatus)
	}
	wantCode := func(err error, code string) {
		t.Helper()
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != code {
			t.Fatalf("got %v, want %s", err, code)
		}
	}

	// Starting an available instance is refused.
	_, err := c.rds.StartDBInstance(ctx, &awsrds.StartDBInstanceInput{DBInstanceIdentifier: aws.String(id)})
	wantCode(err, "InvalidDBInstanceState")

	out, err := c.rds.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	if s := aws.ToString(out.DBInstance.DBInstanceStatus); s != "stopping" {
		t.Fatalf("StopDBInstance answered status %q, want stopping", s)
	}
	for s := status(); s != "stopped"; s = status() {
		if s != "stopping" || ctx.Err() != nil {
			t.Fatalf("while stopping the instance is %q", s)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if conn, err := pgx.Connect(ctx, dsn); err == nil {
		conn.Close(ctx)
		t.Fatal("a stopped instance accepted a connection")
	}
	_, err = c.rds.StopDBInstance(ctx, &awsrds.StopDBInstanceInput{DBInstanceIdentifier: aws.String(id)})
	wantCode(err, "InvalidDBInstanceState")

	if _, err := c.rds.StartDBInstance(ctx, &awsrds.StartDBInstanceInput{DBInstanceIdentifier: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	back := waitAvailable(t, ctx, c, id)
	var n int
	if err := connect(t, ctx, back, pw).QueryRow(ctx, "SELECT n FROM kept").Scan(&n); err != nil || n != 42 {
		t.Fatalf("after the start the table reads %d (%v), want 42", n, err)
	}
}
