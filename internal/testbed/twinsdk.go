package testbed

import (
	"context"
	"strings"
	"testing"

	awsiam "github.com/aws/aws-sdk-go-v2/service/iam"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awslambda "github.com/aws/aws-sdk-go-v2/service/lambda"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/twin"
)

// TwinSDK is an in-process rehearsal twin (demo seed, fast) for a contract test, with the test's
// own SDK clients on its endpoint, to judge the steps by.
type TwinSDK struct {
	Twin *twin.Server
	RDS  *awsrds.Client
	KMS  *awskms.Client
	IAM  *awsiam.Client
	// SecretsManager and Lambda are the dblink-secret runbook's services.
	SecretsManager *awssm.Client
	Lambda         *awslambda.Client
	// CABundle is the twin's CA bundle (its CAIRN_TWIN_CA_BUNDLE), for verify-full logins.
	CABundle string
}

// StartTwinSDK starts the twin for t (skipping when PostgreSQL is not installed), points the
// process's AWS environment at it (so t must not run in parallel), and closes it when t ends.
func StartTwinSDK(t *testing.T) *TwinSDK {
	t.Helper()
	Require(t, "PostgreSQL server", func() error { _, err := pgcluster.Installed(); return err })
	tw, err := twin.Start(context.Background(), twin.Options{Dir: TempDir(t), Speed: twin.SpeedFast, Seed: twin.SeedDemo, Rows: 100})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Close(context.Background()) })
	var ca string
	for _, kv := range tw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
		if k == "CAIRN_TWIN_CA_BUNDLE" {
			ca = v
		}
	}
	ep := tw.Endpoint()
	return &TwinSDK{
		Twin: tw, CABundle: ca,
		SecretsManager: awssm.NewFromConfig(twin.AWSConfig(), func(o *awssm.Options) { o.BaseEndpoint = &ep }),
		Lambda:         awslambda.NewFromConfig(twin.AWSConfig(), func(o *awslambda.Options) { o.BaseEndpoint = &ep }),
		RDS:            awsrds.NewFromConfig(twin.AWSConfig(), func(o *awsrds.Options) { o.BaseEndpoint = &ep }),
		KMS:            awskms.NewFromConfig(twin.AWSConfig(), func(o *awskms.Options) { o.BaseEndpoint = &ep }),
		IAM:            awsiam.NewFromConfig(twin.AWSConfig(), func(o *awsiam.Options) { o.BaseEndpoint = &ep }),
	}
}
