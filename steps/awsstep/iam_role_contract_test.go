package awsstep_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The dblink-secret runbook's IAM kinds, iam-role and rds-add-role, pass the step contract on the
// twin, judged by the test's own IAM and DescribeDBInstances calls. The `with:` blocks are the
// runbook's (runbooks/builtin/dblink-secret.yaml) with its parameters and earlier outputs filled in.
func TestIAMKindsContractOnTheTwin(t *testing.T) {
	ctx := context.Background()
	tb := testbed.StartTwinSDK(t)
	iamc := tb.IAM
	rdsc := tb.RDS
	reg := all.Registry()

	t.Run("iam-role", func(t *testing.T) {
		const role, policy = "cairn-dblink-app-db-fn", "cairn-read-secret"
		st := steptest.Decode(t, reg, "iam-role", `
region: "${params.region}"
role-name: "${params.role-name}-fn"
assume: lambda.amazonaws.com
description: "cairn dblink-secret: lets ${params.function-name} read ${params.secret}"
policy-name: cairn-read-secret
allow:
  - actions: ["secretsmanager:GetSecretValue"]
    resources: ["${steps.preflight.secret-arn}"]
  - actions: ["kms:Decrypt"]
    resources: ["${steps.preflight.secret-kms-key}"]
    condition:
      StringEquals:
        kms:ViaService: "secretsmanager.${steps.preflight.region}.amazonaws.com"
  - actions: ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"]
    resources: ["arn:aws:logs:*:${steps.preflight.account}:log-group:/aws/lambda/${params.function-name}:*"]
`)
		env := steptest.Env(t, map[string]string{
			"region": "", "role-name": "cairn-dblink-app-db", "function-name": "cairn-dblink-secret", "secret": "cairn/remote-db",
			"steps.preflight.secret-arn":     "arn:aws:secretsmanager:us-east-1:000000000000:secret:cairn/remote-db-AbCdEf",
			"steps.preflight.secret-kms-key": "", // the secret uses the AWS managed key: that statement is left out
			"steps.preflight.region":         "us-east-1",
			"steps.preflight.account":        "000000000000",
		})
		lambdaTrust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: roleProbe(ctx, iamc, role), LookAlike: &steptest.LookAlike{
			What: "a role of the same name, trusting lambda, with a policy of the same name, not made by cairn (no managed tag)",
			Plant: func(t testing.TB) {
				if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: &lambdaTrust}); err != nil {
					t.Fatal(err)
				}
				doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
				if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(policy), PolicyDocument: &doc}); err != nil {
					t.Fatal(err)
				}
			},
			There: func(t testing.TB) bool {
				p := roleProbe(ctx, iamc, role)(t)
				return strings.Contains(p, "exists: true\ntags []\n") && strings.Contains(p, "policy "+policy+" ")
			},
			Remove: func(t testing.TB) {
				if _, err := iamc.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(policy)}); err != nil {
					t.Fatal(err)
				}
				if _, err := iamc.DeleteRole(ctx, &iam.DeleteRoleInput{RoleName: aws.String(role)}); err != nil {
					t.Fatal(err)
				}
			},
		}, Tamper: func(t testing.TB) {
			// Someone widens the policy to every secret.
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"secretsmanager:GetSecretValue","Resource":"*"}]}`
			if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String(policy), PolicyDocument: &doc}); err != nil {
				t.Fatal(err)
			}
		}})

		// The role is to have ONE inline policy: another one, allowing more, must not look done.
		t.Run("another inline policy is noticed", func(t *testing.T) {
			if _, err := st.Apply(ctx, env); err != nil {
				t.Fatal(err)
			}
			doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
			if _, err := iamc.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("extra"), PolicyDocument: &doc}); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				_, _ = iamc.DeleteRolePolicy(context.Background(), &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("extra")})
				_ = st.Rollback(context.Background(), env)
			})
			probe := roleProbe(ctx, iamc, role)
			tampered := probe(t)
			ch := st.Check(ctx, env)
			if ch.State == steps.Done {
				t.Fatalf("role %s also allows * on *, but check says done (%s)", role, ch.Reason)
			}
			// cairn did not put "extra", so it does not delete it: blocked, with the command that does.
			if want := "aws iam delete-role-policy --role-name " + role + " --policy-name extra"; ch.State != steps.Blocked ||
				!strings.Contains(ch.Reason, "extra") || !strings.Contains(ch.Fix, want) {
				t.Fatalf("want blocked naming policy extra with fix %q, got %+v", want, ch)
			}
			if err := st.Verify(ctx, env); err == nil || !strings.Contains(err.Error(), "extra") {
				t.Fatalf("verify: want a failure naming policy extra, got %v", err)
			}
			if _, err := st.Apply(ctx, env); err == nil {
				t.Fatal("apply went ahead on a role holding another inline policy")
			}
			if got := probe(t); got != tampered {
				t.Fatalf("a refused apply changed the role:\nbefore: %s\nafter:  %s", tampered, got)
			}
			// Once the engineer deletes it, the role is as described again.
			if _, err := iamc.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: aws.String(role), PolicyName: aws.String("extra")}); err != nil {
				t.Fatal(err)
			}
			if ch := st.Check(ctx, env); ch.State != steps.Done {
				t.Fatalf("after deleting policy extra: want done, got %s (%s)", ch.State, ch.Reason)
			}
			if err := st.Verify(ctx, env); err != nil {
				t.Fatalf("after deleting policy extra: %v", err)
			}
		})
	})

	t.Run("iam-role leaves a role cairn did not create alone", func(t *testing.T) {
		const role = "someone-elses-role"
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: &trust}); err != nil {
			t.Fatal(err)
		}
		st := steptest.Decode(t, reg, "iam-role", `
role-name: someone-elses-role
assume: lambda.amazonaws.com
policy-name: cairn-read-secret
allow:
  - actions: ["secretsmanager:GetSecretValue"]
    resources: ["arn:aws:secretsmanager:us-east-1:000000000000:secret:cairn/remote-db-AbCdEf"]
`)
		env := steptest.Env(t, nil)
		probe := roleProbe(ctx, iamc, role)
		before := probe(t)
		if ch := st.Check(ctx, env); ch.State != steps.Blocked || ch.Fix == "" {
			t.Fatalf("want blocked with a fix, got %+v", ch)
		}
		if _, err := st.Apply(ctx, env); err == nil {
			t.Fatal("apply changed a role cairn did not create")
		}
		if err := st.Rollback(ctx, env); err != nil {
			t.Fatal(err)
		}
		if got := probe(t); got != before {
			t.Fatalf("the foreign role was changed:\nbefore: %s\nafter:  %s", before, got)
		}
	})

	t.Run("rds-add-role", func(t *testing.T) {
		const role = "cairn-dblink-app-db"
		trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"rds.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
		out, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(role), AssumeRolePolicyDocument: &trust})
		if err != nil {
			t.Fatal(err)
		}
		st := steptest.Decode(t, reg, "rds-add-role", `
region: "${params.region}"
instance: "${params.instance}"
role-arn: "${steps.instance-role.arn}"
feature: Lambda
`)
		env := steptest.Env(t, map[string]string{"region": "", "instance": twin.DemoInstance, "steps.instance-role.arn": aws.ToString(out.Role.Arn)})
		probe := func(t testing.TB) string {
			is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, r := range is.DBInstances[0].AssociatedRoles {
				fmt.Fprintf(&b, "role %s feature %s status %s\n", aws.ToString(r.RoleArn), aws.ToString(r.FeatureName), aws.ToString(r.Status))
			}
			return "associated roles:\n" + b.String()
		}
		otherRole, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("someone-elses-rds-role"), AssumeRolePolicyDocument: &trust})
		if err != nil {
			t.Fatal(err)
		}
		otherARN := aws.ToString(otherRole.Role.Arn)
		steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
			What: "another role associated with the instance for feature Lambda",
			Plant: func(t testing.TB) {
				if _, err := rdsc.AddRoleToDBInstance(ctx, &awsrds.AddRoleToDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
					RoleArn: aws.String(otherARN), FeatureName: aws.String("Lambda")}); err != nil {
					t.Fatal(err)
				}
			},
			There: func(t testing.TB) bool { return strings.Contains(probe(t), "role "+otherARN+" feature Lambda") },
			Remove: func(t testing.TB) {
				if _, err := rdsc.RemoveRoleFromDBInstance(ctx, &awsrds.RemoveRoleFromDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
					RoleArn: aws.String(otherARN), FeatureName: aws.String("Lambda")}); err != nil {
					t.Fatal(err)
				}
				waitFor(t, "the other role gone from "+twin.DemoInstance, func() (bool, error) { return !strings.Contains(probe(t), otherARN), nil })
			},
		}, Tamper: func(t testing.TB) {
			if _, err := rdsc.RemoveRoleFromDBInstance(ctx, &awsrds.RemoveRoleFromDBInstanceInput{DBInstanceIdentifier: aws.String(twin.DemoInstance),
				RoleArn: out.Role.Arn, FeatureName: aws.String("Lambda")}); err != nil {
				t.Fatal(err)
			}
		}})
	})
}

// roleProbe describes a role as IAM holds it: tags, trust policy and every inline policy.
func roleProbe(ctx context.Context, c *iam.Client, role string) func(t testing.TB) string {
	return func(t testing.TB) string {
		t.Helper()
		out, err := c.GetRole(ctx, &iam.GetRoleInput{RoleName: &role})
		var nse *iamtypes.NoSuchEntityException
		if errors.As(err, &nse) {
			return "role " + role + " exists: false"
		}
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		trust, _ := url.QueryUnescape(aws.ToString(out.Role.AssumeRolePolicyDocument))
		var tags []string
		for _, tg := range out.Role.Tags {
			tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		slices.Sort(tags)
		fmt.Fprintf(&b, "role %s exists: true\ntags %v\ntrust %s\n", role, tags, trust)
		ps, err := c.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: &role})
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range ps.PolicyNames {
			pol, err := c.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: aws.String(p)})
			if err != nil {
				t.Fatal(err)
			}
			doc, _ := url.QueryUnescape(aws.ToString(pol.PolicyDocument))
			fmt.Fprintf(&b, "policy %s %s\n", p, doc)
		}
		return b.String()
	}
}
