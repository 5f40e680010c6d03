package lookup_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/lookup"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// find returns the choice with value v, failing the test when the lookup did not offer it.
func find(t *testing.T, r lookup.Result, v string) lookup.Choice {
	t.Helper()
	if r.Failed != "" {
		t.Fatalf("%s failed: %s", r.Lookup, r.Failed)
	}
	for _, c := range r.Choices {
		if c.Value == v {
			return c
		}
	}
	t.Fatalf("%s does not offer %q: %+v", r.Lookup, v, r.Choices)
	return lookup.Choice{}
}

// TestAWSLookupsOnTheTwin runs the rds-encrypt form's lookups against the twin's demo plus an
// encrypted instance and a disabled key, then against an endpoint nothing listens on.
func TestAWSLookupsOnTheTwin(t *testing.T) {
	tb := testbed.StartTwinSDK(t)
	ctx := context.Background()
	if _, err := tb.RDS.CreateDBInstance(ctx, &awsrds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String("ledger"), Engine: aws.String("postgres"), EngineVersion: aws.String("15.18"),
		DBInstanceClass: aws.String("db.t3.micro"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("ledger_admin"),
		MasterUserPassword: aws.String("Ledger-pass-1"), StorageEncrypted: aws.Bool(true), KmsKeyId: aws.String(twin.DemoKeyAlias),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := awsrds.NewDBInstanceAvailableWaiter(tb.RDS, func(o *awsrds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = 200*time.Millisecond, time.Second
	}).WaitForOutput(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("ledger")}, 5*time.Minute); err != nil {
		t.Fatal(err)
	}
	key, err := tb.KMS.CreateKey(ctx, &awskms.CreateKeyInput{Description: aws.String("retired")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tb.KMS.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	unenc := lookup.Run(ctx, runbooks.LookupRDSUnencrypted, lookup.Inputs{})
	if got := unenc.Choices[0]; got.Value != twin.DemoInstance || got.NotEligible != "" ||
		!strings.Contains(got.Detail, "postgres 15.") || !strings.Contains(got.Detail, "unencrypted") {
		t.Errorf("rds-unencrypted does not offer %s first as eligible: %+v", twin.DemoInstance, unenc.Choices)
	}
	if c := find(t, unenc, "ledger"); c.NotEligible != "already encrypted with "+twin.DemoKeyAlias {
		t.Errorf("the encrypted instance is offered without its reason: %+v", c)
	}
	if c := find(t, lookup.Run(ctx, runbooks.LookupRDSInstances, lookup.Inputs{}), "ledger"); c.NotEligible != "" {
		t.Errorf("rds-instances refuses an encrypted PostgreSQL instance: %+v", c)
	}

	keys := lookup.Run(ctx, runbooks.LookupKMSKeys, lookup.Inputs{})
	if c := keys.Choices[0]; c.Value != twin.DemoKeyAlias || c.NotEligible != "" || !strings.HasPrefix(c.Detail, "enabled · customer managed") {
		t.Errorf("kms-keys does not offer %s first: %+v", twin.DemoKeyAlias, keys.Choices)
	}
	if c := find(t, keys, *key.KeyMetadata.KeyId); !strings.HasPrefix(c.NotEligible, "disabled") {
		t.Errorf("a disabled key is offered without its reason: %+v", c)
	}

	if c := find(t, lookup.Run(ctx, runbooks.LookupSecrets, lookup.Inputs{}), twin.DemoSecret); !strings.HasPrefix(c.Detail, "changed 20") {
		t.Errorf("secret without its last change: %+v", c)
	}

	// The form itself, with nothing typed: the instance picked, the key first under kms-key.
	formOffers(t, map[string][]string{
		"instance": {"> " + twin.DemoInstance + "  postgres 15.", "  ledger  not eligible: already encrypted with " + twin.DemoKeyAlias},
		"kms-key":  {"> " + twin.DemoKeyAlias + " ", "enabled · customer managed · key", "not eligible: disabled"},
	}, "instance", "region", "kms-key")

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	t.Setenv("AWS_ENDPOINT_URL", "http://"+dead)
	for _, lk := range []runbooks.Lookup{runbooks.LookupRDSUnencrypted, runbooks.LookupKMSKeys, runbooks.LookupSecrets} {
		r := lookup.Run(ctx, lk, lookup.Inputs{})
		if len(r.Choices) > 0 || !strings.HasPrefix(r.Failed, "cannot reach "+dead) || !strings.HasSuffix(r.Failed, "connection refused") {
			t.Errorf("%s against %s: %+v", lk, dead, r)
		}
	}
}
