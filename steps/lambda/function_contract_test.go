package lambdastep_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	lambdastep "github.com/cairn-runbooks/cairn/steps/lambda"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// lambda-function passes the step contract on the twin, judged by the test's own GetFunction. The
// twin runs without its demo seed: the kind touches only IAM (the execution role must exist) and Lambda.
func TestFunctionContractOnTheTwin(t *testing.T) {
	testbed.Require(t, "the embedded cairn-secret-lambda zip for x86_64 (make lambda)", func() error {
		_, err := lambdastep.LoadBundle("cairn-secret-lambda", "x86_64")
		return err
	})
	ctx := context.Background()
	tw, err := twin.Start(ctx, twin.Options{Dir: testbed.TempDir(t), Speed: twin.SpeedFast})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tw.Close(context.Background()) })
	for _, kv := range tw.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	ep := tw.Endpoint()
	iamc := iam.NewFromConfig(twin.AWSConfig(), func(o *iam.Options) { o.BaseEndpoint = &ep })
	lc := lambda.NewFromConfig(twin.AWSConfig(), func(o *lambda.Options) { o.BaseEndpoint = &ep })

	// The execution role is the function-role step's; here the test makes it.
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}`
	role, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("cairn-dblink-app-db-fn"), AssumeRolePolicyDocument: &trust})
	if err != nil {
		t.Fatal(err)
	}
	const name = "cairn-dblink-secret"
	st := steptest.Decode(t, all.Registry(), "lambda-function", `
region: "${params.region}"
function-name: "${params.function-name}"
bundle: cairn-secret-lambda
architecture: "${params.architecture}"
role-arn: "${steps.function-role.arn}"
timeout: "10"
memory: "128"
description: "cairn dblink-secret: connection values of ${params.secret} for ${params.instance}"
environment:
  CAIRN_ALLOWED_SECRET_IDS: "${params.secret}"
`)
	env := steptest.Env(t, map[string]string{"region": "", "function-name": name, "architecture": "x86_64", "secret": "cairn/remote-db",
		"instance": "app-db", "steps.function-role.arn": aws.ToString(role.Role.Arn)})
	probe := func(t testing.TB) string {
		t.Helper()
		out, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(name)})
		var nf *lambdatypes.ResourceNotFoundException
		if errors.As(err, &nf) {
			return "function " + name + " exists: false"
		}
		if err != nil {
			t.Fatal(err)
		}
		c := out.Configuration
		var vars map[string]string
		if c.Environment != nil {
			vars = c.Environment.Variables
		}
		var envs []string
		for _, k := range slices.Sorted(maps.Keys(vars)) {
			envs = append(envs, k+"="+vars[k])
		}
		return fmt.Sprintf("function %s exists: true\ncode %s %v runtime %s handler %s\nrole %s timeout %d memory %d\ndescription %q\nenv %v\ntags %v\nstate %s",
			name, aws.ToString(c.CodeSha256), c.Architectures, c.Runtime, aws.ToString(c.Handler), aws.ToString(c.Role),
			aws.ToInt32(c.Timeout), aws.ToInt32(c.MemorySize), aws.ToString(c.Description), envs, out.Tags, c.State)
	}
	steptest.Run(t, steptest.Case{Step: st, Env: env, Probe: probe, LookAlike: &steptest.LookAlike{
		What: "a function of the same name running the same embedded bundle, deployed by someone else (no cairn tag)",
		Plant: func(t testing.TB) {
			b, err := lambdastep.LoadBundle("cairn-secret-lambda", "x86_64")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(name), Runtime: lambdatypes.RuntimeProvidedal2023,
				Handler: aws.String("bootstrap"), Role: role.Role.Arn, Code: &lambdatypes.FunctionCode{ZipFile: b.Zip}}); err != nil {
				t.Fatal(err)
			}
		},
		There: func(t testing.TB) bool {
			p := probe(t)
			return strings.Contains(p, "exists: true") && strings.Contains(p, "tags map[]")
		},
		Remove: func(t testing.TB) {
			if _, err := lc.DeleteFunction(ctx, &lambda.DeleteFunctionInput{FunctionName: aws.String(name)}); err != nil {
				t.Fatal(err)
			}
		},
	}, Tamper: func(t testing.TB) {
		// Someone lets the function read any secret id.
		if _, err := lc.UpdateFunctionConfiguration(ctx, &lambda.UpdateFunctionConfigurationInput{FunctionName: aws.String(name),
			Environment: &lambdatypes.Environment{Variables: map[string]string{"CAIRN_ALLOWED_SECRET_IDS": "*"}}}); err != nil {
			t.Fatal(err)
		}
	}})

	t.Run("a function cairn did not deploy is left alone", func(t *testing.T) {
		const other = "someone-elses-function"
		b, _ := lambdastep.LoadBundle("cairn-secret-lambda", "x86_64")
		if _, err := lc.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String(other), Runtime: lambdatypes.RuntimeProvidedal2023,
			Handler: aws.String("bootstrap"), Role: role.Role.Arn, Code: &lambdatypes.FunctionCode{ZipFile: b.Zip}}); err != nil {
			t.Fatal(err)
		}
		env := steptest.Env(t, map[string]string{"region": "", "function-name": other, "architecture": "x86_64", "secret": "cairn/remote-db",
			"instance": "app-db", "steps.function-role.arn": aws.ToString(role.Role.Arn)})
		if ch := st.Check(ctx, env); ch.State != steps.Blocked || ch.Fix == "" {
			t.Fatalf("want blocked with a fix, got %+v", ch)
		}
		if _, err := st.Apply(ctx, env); err == nil {
			t.Fatal("apply replaced a function cairn did not deploy")
		}
		if err := st.Rollback(ctx, env); err != nil {
			t.Fatal(err)
		}
		if _, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(other)}); err != nil {
			t.Fatalf("rollback deleted a function cairn did not deploy: %v", err)
		}
	})
}
