package twin_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskms "github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/cairn-runbooks/cairn/internal/testbed"
)

func isA[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

func hasCode(code string) func(error) bool {
	return func(err error) bool {
		var api smithy.APIError
		return errors.As(err, &api) && api.ErrorCode() == code
	}
}

// TestErrors asserts the SDK's typed error (and the HTTP status) for every error case the twin
// answers. Cases run in order: some leave state the next relies on.
func TestErrors(t *testing.T) {
	t.Parallel()
	_, c := startTwin(t, testbed.TempDir(t))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	const pw = "err-password-1"
	createInstance(t, ctx, c, "err-db", pw, nil)
	createInstance(t, ctx, c, "err-other", pw, nil)
	if _, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("err-db"), DBSnapshotIdentifier: aws.String("err-snap")}); err != nil {
		t.Fatal(err)
	}
	waitSnapshot(t, ctx, c, "err-snap")
	disabled, err := c.kms.CreateKey(ctx, &awskms.CreateKeyInput{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.kms.DisableKey(ctx, &awskms.DisableKeyInput{KeyId: disabled.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.kms.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/err"), TargetKeyId: disabled.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.sm.CreateSecret(ctx, &awssm.CreateSecretInput{Name: aws.String("err/secret"), SecretString: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	newInstance := func(id string) *awsrds.CreateDBInstanceInput {
		return &awsrds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String(id), Engine: aws.String("postgres"),
			DBInstanceClass: aws.String("db.t3.micro"), MasterUsername: aws.String("master"), MasterUserPassword: aws.String(pw)}
	}

	tests := []struct {
		name   string
		call   func() error
		is     func(error) bool
		status int
	}{
		{"describe missing instance", func() error {
			_, err := c.rds.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String("nope")})
			return err
		}, isA[*rdstypes.DBInstanceNotFoundFault], 404},
		{"create existing instance", func() error {
			_, err := c.rds.CreateDBInstance(ctx, newInstance("err-db"))
			return err
		}, isA[*rdstypes.DBInstanceAlreadyExistsFault], 400},
		{"create encrypted with a disabled key", func() error {
			in := newInstance("err-enc")
			in.StorageEncrypted, in.KmsKeyId = aws.Bool(true), aws.String("alias/err")
			_, err := c.rds.CreateDBInstance(ctx, in)
			return err
		}, isA[*rdstypes.KMSKeyNotAccessibleFault], 400},
		{"create with a key but not encrypted", func() error {
			in := newInstance("err-enc")
			in.KmsKeyId = aws.String("alias/err")
			_, err := c.rds.CreateDBInstance(ctx, in)
			return err
		}, hasCode("InvalidParameterCombination"), 400},
		{"modify missing instance", func() error {
			_, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("nope"), ApplyImmediately: aws.Bool(true)})
			return err
		}, isA[*rdstypes.DBInstanceNotFoundFault], 404},
		{"rename onto an existing name", func() error {
			_, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("err-db"),
				NewDBInstanceIdentifier: aws.String("err-other"), ApplyImmediately: aws.Bool(true)})
			return err
		}, isA[*rdstypes.DBInstanceAlreadyExistsFault], 400},
		{"snapshot existing id", func() error {
			_, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("err-db"), DBSnapshotIdentifier: aws.String("err-snap")})
			return err
		}, isA[*rdstypes.DBSnapshotAlreadyExistsFault], 400},
		{"snapshot missing instance", func() error {
			_, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("nope"), DBSnapshotIdentifier: aws.String("err-snap-2")})
			return err
		}, isA[*rdstypes.DBInstanceNotFoundFault], 404},
		{"describe missing snapshot", func() error {
			_, err := c.rds.DescribeDBSnapshots(ctx, &awsrds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String("nope")})
			return err
		}, isA[*rdstypes.DBSnapshotNotFoundFault], 404},
		{"copy with a disabled key", func() error {
			_, err := c.rds.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("err-snap"),
				TargetDBSnapshotIdentifier: aws.String("err-copy"), KmsKeyId: disabled.KeyMetadata.Arn})
			return err
		}, isA[*rdstypes.KMSKeyNotAccessibleFault], 400},
		{"copy with an unknown key", func() error {
			_, err := c.rds.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("err-snap"),
				TargetDBSnapshotIdentifier: aws.String("err-copy"), KmsKeyId: aws.String("alias/missing")})
			return err
		}, isA[*rdstypes.KMSKeyNotAccessibleFault], 400},
		{"copy missing snapshot", func() error {
			_, err := c.rds.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("nope"), TargetDBSnapshotIdentifier: aws.String("err-copy")})
			return err
		}, isA[*rdstypes.DBSnapshotNotFoundFault], 404},
		{"copy onto an existing snapshot", func() error {
			_, err := c.rds.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("err-snap"), TargetDBSnapshotIdentifier: aws.String("err-snap")})
			return err
		}, isA[*rdstypes.DBSnapshotAlreadyExistsFault], 400},
		{"restore missing snapshot", func() error {
			_, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("err-new"), DBSnapshotIdentifier: aws.String("nope")})
			return err
		}, isA[*rdstypes.DBSnapshotNotFoundFault], 404},
		{"restore onto an existing instance", func() error {
			_, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("err-other"), DBSnapshotIdentifier: aws.String("err-snap")})
			return err
		}, isA[*rdstypes.DBInstanceAlreadyExistsFault], 400},
		{"delete missing snapshot", func() error {
			_, err := c.rds.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("nope")})
			return err
		}, isA[*rdstypes.DBSnapshotNotFoundFault], 404},
		{"delete missing instance", func() error {
			_, err := c.rds.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("nope"), SkipFinalSnapshot: aws.Bool(true)})
			return err
		}, isA[*rdstypes.DBInstanceNotFoundFault], 404},
		{"delete without a final snapshot decision", func() error {
			_, err := c.rds.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("err-db")})
			return err
		}, hasCode("InvalidParameterCombination"), 400},
		{"delete with an existing final snapshot id", func() error {
			_, err := c.rds.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("err-db"), FinalDBSnapshotIdentifier: aws.String("err-snap")})
			return err
		}, isA[*rdstypes.DBSnapshotAlreadyExistsFault], 400},
		{"delete a protected instance", func() error {
			if _, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("err-other"), DeletionProtection: aws.Bool(true), ApplyImmediately: aws.Bool(true)}); err != nil {
				return err
			}
			_, err := c.rds.DeleteDBInstance(ctx, &awsrds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String("err-other"), SkipFinalSnapshot: aws.Bool(true)})
			return err
		}, hasCode("InvalidParameterCombination"), 400},
		// The next cases start a snapshot and act while it runs: the instance is backing-up and the
		// snapshot creating, both set before CreateDBSnapshot answers.
		{"snapshot an instance that is backing up", func() error {
			if _, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("err-db"), DBSnapshotIdentifier: aws.String("err-busy")}); err != nil {
				return err
			}
			_, err := c.rds.CreateDBSnapshot(ctx, &awsrds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("err-db"), DBSnapshotIdentifier: aws.String("err-busy-2")})
			return err
		}, isA[*rdstypes.InvalidDBInstanceStateFault], 400},
		{"rename an instance that is backing up", func() error {
			_, err := c.rds.ModifyDBInstance(ctx, &awsrds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("err-db"), NewDBInstanceIdentifier: aws.String("err-x"), ApplyImmediately: aws.Bool(true)})
			return err
		}, isA[*rdstypes.InvalidDBInstanceStateFault], 400},
		{"copy a snapshot still being created", func() error {
			_, err := c.rds.CopyDBSnapshot(ctx, &awsrds.CopyDBSnapshotInput{SourceDBSnapshotIdentifier: aws.String("err-busy"), TargetDBSnapshotIdentifier: aws.String("err-copy")})
			return err
		}, isA[*rdstypes.InvalidDBSnapshotStateFault], 400},
		{"restore a snapshot still being created", func() error {
			_, err := c.rds.RestoreDBInstanceFromDBSnapshot(ctx, &awsrds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("err-new"), DBSnapshotIdentifier: aws.String("err-busy")})
			return err
		}, isA[*rdstypes.InvalidDBSnapshotStateFault], 400},
		{"delete a snapshot still being created", func() error {
			_, err := c.rds.DeleteDBSnapshot(ctx, &awsrds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String("err-busy")})
			return err
		}, isA[*rdstypes.InvalidDBSnapshotStateFault], 400},
		{"kms: describe a missing key", func() error {
			_, err := c.kms.DescribeKey(ctx, &awskms.DescribeKeyInput{KeyId: aws.String("alias/missing")})
			return err
		}, isA[*kmstypes.NotFoundException], 400},
		{"kms: encrypt with a disabled key", func() error {
			_, err := c.kms.Encrypt(ctx, &awskms.EncryptInput{KeyId: aws.String("alias/err"), Plaintext: []byte("x")})
			return err
		}, isA[*kmstypes.DisabledException], 400},
		{"kms: alias taken", func() error {
			_, err := c.kms.CreateAlias(ctx, &awskms.CreateAliasInput{AliasName: aws.String("alias/err"), TargetKeyId: disabled.KeyMetadata.KeyId})
			return err
		}, isA[*kmstypes.AlreadyExistsException], 400},
		{"kms: decrypt garbage", func() error {
			_, err := c.kms.Decrypt(ctx, &awskms.DecryptInput{CiphertextBlob: []byte("not a blob")})
			return err
		}, isA[*kmstypes.InvalidCiphertextException], 400},
		{"secrets: get a missing secret", func() error {
			_, err := c.sm.GetSecretValue(ctx, &awssm.GetSecretValueInput{SecretId: aws.String("nope")})
			return err
		}, isA[*smtypes.ResourceNotFoundException], 400},
		{"secrets: create an existing secret", func() error {
			_, err := c.sm.CreateSecret(ctx, &awssm.CreateSecretInput{Name: aws.String("err/secret"), SecretString: aws.String("y")})
			return err
		}, isA[*smtypes.ResourceExistsException], 400},
		{"secrets: get a secret scheduled for deletion", func() error {
			if _, err := c.sm.DeleteSecret(ctx, &awssm.DeleteSecretInput{SecretId: aws.String("err/secret")}); err != nil {
				return err
			}
			_, err := c.sm.GetSecretValue(ctx, &awssm.GetSecretValueInput{SecretId: aws.String("err/secret")})
			return err
		}, isA[*smtypes.InvalidRequestException], 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			if err == nil || !tt.is(err) {
				t.Fatalf("err = %v (%T), not the expected typed error", err, err)
			}
			var re *smithyhttp.ResponseError
			if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
				t.Fatalf("HTTP status = %v, want %d", re, tt.status)
			}
		})
	}
	waitSnapshot(t, ctx, c, "err-busy")
}
