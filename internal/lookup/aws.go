package lookup

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
)

// awsConfig loads the standard chain (profiles, environment, AWS_ENDPOINT_URL) for the region,
// retrying a failed call once: a form waits on it.
func awsConfig(ctx context.Context, in Inputs) (aws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(2)}
	if in.Region != "" {
		opts = append(opts, config.WithRegion(in.Region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, errors.New("no AWS region: set the region parameter or AWS_REGION")
	}
	return cfg, nil
}

// rdsInstances lists the account's DB instances; PostgreSQL ones fit, and with unencrypted only
// those whose storage is not encrypted yet.
func rdsInstances(ctx context.Context, in Inputs, unencrypted bool) ([]Choice, error) {
	cfg, err := awsConfig(ctx, in)
	if err != nil {
		return nil, err
	}
	var out []Choice
	aliases := keyAliases(ctx, kms.NewFromConfig(cfg)) // best effort: names keys by alias
	p := rds.NewDescribeDBInstancesPaginator(rds.NewFromConfig(cfg), &rds.DescribeDBInstancesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, i := range page.DBInstances {
			engine := aws.ToString(i.Engine)
			enc := "unencrypted"
			if aws.ToBool(i.StorageEncrypted) {
				enc = "encrypted with " + keyName(aws.ToString(i.KmsKeyId), aliases)
			}
			c := Choice{Value: aws.ToString(i.DBInstanceIdentifier), Detail: strings.Join([]string{
				engine + " " + aws.ToString(i.EngineVersion), aws.ToString(i.DBInstanceClass),
				fmt.Sprintf("%d GiB", aws.ToInt32(i.AllocatedStorage)), enc, aws.ToString(i.DBInstanceStatus)}, " · ")}
			switch {
			case engine != "postgres":
				c.NotEligible = "engine " + engine + ", not RDS PostgreSQL"
			case unencrypted && aws.ToBool(i.StorageEncrypted):
				c.NotEligible = "already " + enc
			}
			out = append(out, c)
		}
	}
	return out, nil
}

// keyAliases maps key ids to their aliases; empty when KMS cannot be read.
func keyAliases(ctx context.Context, c *kms.Client) map[string][]string {
	out := map[string][]string{}
	p := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return out
		}
		for _, a := range page.Aliases {
			if a.TargetKeyId != nil {
				out[*a.TargetKeyId] = append(out[*a.TargetKeyId], aws.ToString(a.AliasName))
			}
		}
	}
	return out
}

// keyName is a key's first alias, else its id (from an id or an ARN).
func keyName(key string, aliases map[string][]string) string {
	id := key[strings.LastIndex(key, "/")+1:]
	if as := aliases[id]; len(as) > 0 {
		return as[0]
	}
	return id
}

// kmsKeys lists the account's keys by alias (a key without one by its id): enabled symmetric
// encryption keys fit, customer-managed before AWS-managed.
func kmsKeys(ctx context.Context, in Inputs) ([]Choice, error) {
	cfg, err := awsConfig(ctx, in)
	if err != nil {
		return nil, err
	}
	c := kms.NewFromConfig(cfg)
	var metas []*kmstypes.KeyMetadata
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, k := range page.Keys {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				return nil, err
			}
			metas = append(metas, d.KeyMetadata)
		}
	}
	sort.SliceStable(metas, func(a, b int) bool {
		return metas[a].KeyManager != kmstypes.KeyManagerTypeAws && metas[b].KeyManager == kmstypes.KeyManagerTypeAws
	})
	aliases := keyAliases(ctx, c)
	var out []Choice
	for _, m := range metas {
		id := aws.ToString(m.KeyId)
		detail := []string{strings.ToLower(string(m.KeyState)), "customer managed", "key " + id[:min(len(id), 8)] + "…"}
		if m.KeyManager == kmstypes.KeyManagerTypeAws {
			detail[1] = "AWS managed"
		}
		if d := aws.ToString(m.Description); d != "" {
			detail = append(detail, d)
		}
		var why string
		switch {
		case m.KeyState == kmstypes.KeyStateDisabled:
			why = "disabled: aws kms enable-key --key-id " + id
		case m.KeyState != kmstypes.KeyStateEnabled:
			why = "state " + string(m.KeyState)
		case m.KeyUsage != "" && m.KeyUsage != kmstypes.KeyUsageTypeEncryptDecrypt:
			why = "for " + string(m.KeyUsage) + ", not encryption"
		case m.KeySpec != "" && m.KeySpec != kmstypes.KeySpecSymmetricDefault:
			why = "asymmetric (" + string(m.KeySpec) + "): RDS encrypts with symmetric keys only"
		}
		names := aliases[id]
		if len(names) == 0 {
			names = []string{id}
		}
		for _, n := range names {
			out = append(out, Choice{Value: n, Detail: strings.Join(detail, " · "), NotEligible: why})
		}
	}
	return out, nil
}

// secrets lists Secrets Manager secrets by name, newest first, with when each last changed.
func secrets(ctx context.Context, in Inputs) ([]Choice, error) {
	cfg, err := awsConfig(ctx, in)
	if err != nil {
		return nil, err
	}
	var out []Choice
	p := secretsmanager.NewListSecretsPaginator(secretsmanager.NewFromConfig(cfg), &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, s := range page.SecretList {
			changed := s.LastChangedDate
			if changed == nil {
				changed = s.CreatedDate
			}
			detail := []string{}
			if changed != nil {
				detail = append(detail, "changed "+changed.UTC().Format("2006-01-02 15:04 UTC"))
			}
			if aws.ToBool(s.RotationEnabled) {
				detail = append(detail, "rotated")
			}
			if d := aws.ToString(s.Description); d != "" {
				detail = append(detail, d)
			}
			out = append(out, Choice{Value: aws.ToString(s.Name), Detail: strings.Join(detail, " · ")})
		}
	}
	return out, nil
}
