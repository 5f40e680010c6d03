package twin_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	awssts "github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

type clients struct {
	rds *awsrds.Client
	kms *awskms.Client
	sm  *awssm.Client
	sts *awssts.Client
}

func newClients(endpoint string) clients {
	cfg := twin.AWSConfig()
	return clients{
		rds: awsrds.NewFromConfig(cfg, func(o *awsrds.Options) { o.BaseEndpoint = &endpoint }),
		kms: awskms.NewFromConfig(cfg, func(o *awskms.Options) { o.BaseEndpoint = &endpoint }),
		sm:  awssm.NewFromConfig(cfg, func(o *awssm.Options) { o.BaseEndpoint = &endpoint }),
		sts: awssts.NewFromConfig(cfg, func(o *awssts.Options) { o.BaseEndpoint = &endpoint }),
	}
}

func requirePG(t *testing.T) {
	t.Helper()
	testbed.Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
}

// startTwin starts an in-process twin at fast speed in a fresh directory, closed on cleanup.
func startTwin(t *testing.T, dir string) (*twin.Server, clients) {
	t.Helper()
	requirePG(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := twin.Start(ctx, twin.Options{Dir: dir, Speed: twin.SpeedFast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close(context.Background()) })
	return s, newClients(s.Endpoint())
}

func waitAvailable(t *testing.T, ctx context.Context, c clients, id string) rdstypes.DBInstance {
	t.Helper()
	w := awsrds.NewDBInstanceAvailableWaiter(c.rds, func(o *awsrds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	out, err := w.WaitForOutput(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id}, 2*time.Minute)
	if err != nil {
		t.Fatalf("wait for %s available: %v", id, err)
	}
	return out.DBInstances[0]
}

func waitSnapshot(t *testing.T, ctx context.Context, c clients, id string) rdstypes.DBSnapshot {
	t.Helper()
	w := awsrds.NewDBSnapshotAvailableWaiter(c.rds, func(o *awsrds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 100*time.Millisecond, 500*time.Millisecond
	})
	out, err := w.WaitForOutput(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: &id}, 2*time.Minute)
	if err != nil {
		t.Fatalf("wait for snapshot %s: %v", id, err)
	}
	return out.DBSnapshots[0]
}

// waitGone polls until DescribeDBInstances says DBInstanceNotFound.
func waitGone(t *testing.T, ctx context.Context, c clients, id string) {
	t.Helper()
	for ctx.Err() == nil {
		_, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: &id})
		var nf *rdstypes.DBInstanceNotFoundFault
		if errors.As(err, &nf) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never went away", id)
}

func createInstance(t *testing.T, ctx context.Context, c clients, id, password string, mod func(*awsrds.CreateDBInstanceInput)) rdstypes.DBInstance {
	t.Helper()
	in := &awsrds.CreateDBInstanceInput{
		DBInstanceIdentifier: &id, Engine: aws.String("postgres"), DBInstanceClass: aws.String("db.t3.micro"),
		MasterUsername: aws.String("master"), MasterUserPassword: &password, DBName: aws.String("app"),
		AllocatedStorage: aws.Int32(20),
	}
	if mod != nil {
		mod(in)
	}
	if _, err := c.rds.CreateDBInstance(ctx, in); err != nil {
		t.Fatalf("create %s: %v", id, err)
	}
	return waitAvailable(t, ctx, c, id)
}

func connect(t *testing.T, ctx context.Context, inst rdstypes.DBInstance, password string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d dbname=app user=master password=%s sslmode=require",
		*inst.Endpoint.Address, *inst.Endpoint.Port, pgcluster.QuoteValue(password)))
	if err != nil {
		t.Fatalf("connect to %s: %v", *inst.DBInstanceIdentifier, err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// connectDSN connects with dsn, closed on cleanup.
func connectDSN(t *testing.T, ctx context.Context, dsn string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}
