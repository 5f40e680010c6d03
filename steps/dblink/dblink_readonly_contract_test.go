package dblink_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	awsrds "github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// The two read-only kinds of the dblink-secret runbook pass the read-only contract on the twin, set
// up as TestDatabaseKindsContractOnTheTwin sets it up (the demo seed's app-db, the master user from
// its secret). The steps are the built-in runbook's own, decoded by the loader; the verify kind
// needs the deployed chain, which the test makes by applying the runbook's earlier steps in order.
// The "remote" is a login role on app-db itself, reached over TCP with verify-full TLS, as the
// e2e test's remote-db is.
func TestReadOnlyKindsOnTheTwin(t *testing.T) {
	arch := map[string]string{"amd64": "x86_64", "arm64": "arm64"}[runtime.GOARCH]
	testbed.Require(t, "the Lambda bundle for "+arch, func() error {
		_, err := os.Stat("../lambda/bundle/cairn-secret-lambda-" + arch + ".zip")
		return err
	})
	ctx := context.Background()
	tw := startTwin(t)
	ca, rdsc, smc, iamc, lc, port, master := tw.CABundle, tw.RDS, tw.SecretsManager, tw.IAM, tw.Lambda, tw.port, tw.master
	secret := func(t testing.TB, name string, v map[string]any) {
		t.Helper()
		raw, _ := json.Marshal(v)
		if _, err := smc.CreateSecret(ctx, &secretsmanager.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(raw))}); err != nil {
			t.Fatal(err)
		}
	}

	// The remote: a login role with a password holding " ' \ and a space, its secret, and a spare
	// secret with the same values for the preflight's own break.
	c := master(t, "postgres")
	const remotePW = `pa"ss 'w\rd x1`
	exec(t, c, "CREATE ROLE remote_app LOGIN PASSWORD '"+strings.ReplaceAll(remotePW, "'", "''")+"'")
	remote := map[string]any{"username": "remote_app", "password": remotePW, "host": "127.0.0.1", "port": port, "dbname": "postgres"}
	secret(t, "cairn/remote-db/app", remote)
	secret(t, "cairn/remote-db/spare", remote)

	params := map[string]string{"instance": twin.DemoInstance, "region": "", "secret": "cairn/remote-db/app", "function-name": "cairn-dblink-secret",
		"role-name": "cairn-dblink-" + twin.DemoInstance, "schema": "dblink_secret", "owner-role": "dblink_secret_owner", "grant-to": "reporting", "ssl-root-cert": ca,
		"credentials-secret": twin.DemoSecret, "architecture": arch, "database": "postgres"}
	reg := all.Registry()
	cat, err := runbooks.LoadCatalog(reg)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := cat.Get("dblink-secret")
	if err != nil {
		t.Fatal(err)
	}
	spec := map[string]*runbooks.StepSpec{}
	var order []string
	for _, s := range rb.Steps {
		spec[s.ID] = s
		order = append(order, s.ID)
	}
	if got := strings.Join(order, " "); got != "preflight function-role deploy instance-role attach extensions connect-function verify" {
		t.Fatalf("the runbook's steps changed (%s): revisit this test's setup", got)
	}
	envWith := func(t testing.TB, extra map[string]string) *steps.Env {
		m := map[string]string{}
		for k, v := range params {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return steptest.Env(t, m)
	}

	// probe is the instance and the AWS side as the test sees them, as the master user and through
	// the twin's API: extensions, the schema with its allow-list, table, column and function
	// privileges, every role with its memberships, who may use aws_lambda and aws_commons; the
	// secrets' versions, the function's code and revision, the IAM roles with their inline policies,
	// the instance's associated roles.
	probe := func(t testing.TB) string {
		var b strings.Builder
		b.WriteString("extensions " + query(t, c, `SELECT string_agg(extname || ' ' || extversion || ' ' || coalesce(obj_description(oid, 'pg_extension'), '-'), ', ' ORDER BY extname) FROM pg_extension`))
		b.WriteString("\nroles " + query(t, c, `SELECT string_agg(r.rolname || ' super=' || r.rolsuper || ' login=' || r.rolcanlogin || ' in=' ||
			coalesce((SELECT string_agg(g.rolname, ',' ORDER BY g.rolname) FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid), '-'),
			'; ' ORDER BY r.rolname) FROM pg_roles r`))
		b.WriteString("\naws schemas " + query(t, c, `SELECT coalesce(string_agg(n.nspname || ' ' || coalesce(n.nspacl::text, '-') || ' functions ' ||
			coalesce((SELECT string_agg(p.oid::regprocedure::text || ' ' || coalesce(p.proacl::text, '-'), ', ' ORDER BY p.oid::regprocedure::text)
			          FROM pg_proc p WHERE p.pronamespace = n.oid), '-'), '; ' ORDER BY n.nspname), '-')
			FROM pg_namespace n WHERE n.nspname IN ('aws_lambda', 'aws_commons')`))
		if query(t, c, `SELECT coalesce(to_regnamespace('dblink_secret')::text, '-')`) == "-" {
			b.WriteString("\nschema dblink_secret exists: false")
		} else {
			b.WriteString("\n" + query(t, c, `SELECT concat_ws(E'\n',
				'schema dblink_secret comment ' || coalesce(obj_description('dblink_secret'::regnamespace, 'pg_namespace'), '-'),
				'schema acl ' || (SELECT coalesce(nspacl::text, '-') FROM pg_namespace WHERE nspname = 'dblink_secret'),
				'tables ' || (SELECT coalesce(string_agg(relname || ' ' || coalesce(relacl::text, '-'), ', ' ORDER BY relname), '-')
				              FROM pg_class WHERE relnamespace = 'dblink_secret'::regnamespace),
				'column acl ' || (SELECT coalesce(string_agg(attrelid::regclass::text || '.' || attname || ' ' || attacl::text, ', ' ORDER BY attname), '-')
				              FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid WHERE r.relnamespace = 'dblink_secret'::regnamespace AND attacl IS NOT NULL),
				'allow-list ' || coalesce((SELECT string_agg(secret_id, ', ' ORDER BY secret_id) FROM dblink_secret.allowed_secrets), '-'),
				'functions ' || (SELECT coalesce(string_agg(p.oid::regprocedure::text || ' secdef ' || p.prosecdef || ' config ' || coalesce(p.proconfig::text, '-')
				                 || ' acl ' || coalesce(p.proacl::text, '-') || ' body md5 ' || md5(p.prosrc), ', '), '-')
				                 FROM pg_proc p WHERE p.pronamespace = 'dblink_secret'::regnamespace))`))
		}
		for _, name := range []string{"cairn/remote-db/app", "cairn/remote-db/spare"} {
			d, err := smc.DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: aws.String(name)})
			if err != nil {
				var nf *smtypes.ResourceNotFoundException
				if !errors.As(err, &nf) {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "\nsecret %s: absent", name)
				continue
			}
			var vs []string
			for id, stages := range d.VersionIdsToStages {
				vs = append(vs, id+"="+strings.Join(stages, ","))
			}
			sort.Strings(vs)
			fmt.Fprintf(&b, "\nsecret %s %s versions %v deleted %v", name, aws.ToString(d.ARN), vs, d.DeletedDate)
		}
		if f, err := lc.GetFunction(ctx, &lambda.GetFunctionInput{FunctionName: aws.String(params["function-name"])}); err != nil {
			b.WriteString("\nfunction: absent")
		} else {
			var vars map[string]string
			if f.Configuration.Environment != nil {
				vars = f.Configuration.Environment.Variables
			}
			fmt.Fprintf(&b, "\nfunction %s sha %s revision %s role %s env %v", aws.ToString(f.Configuration.FunctionArn), aws.ToString(f.Configuration.CodeSha256),
				aws.ToString(f.Configuration.RevisionId), aws.ToString(f.Configuration.Role), vars)
		}
		for _, r := range []string{params["role-name"], params["role-name"] + "-fn"} {
			g, err := iamc.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(r)})
			if err != nil {
				fmt.Fprintf(&b, "\niam role %s: absent", r)
				continue
			}
			fmt.Fprintf(&b, "\niam role %s %s trust %s", r, aws.ToString(g.Role.Arn), aws.ToString(g.Role.AssumeRolePolicyDocument))
			ps, err := iamc.ListRolePolicies(ctx, &iam.ListRolePoliciesInput{RoleName: aws.String(r)})
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range ps.PolicyNames {
				doc, err := iamc.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: aws.String(r), PolicyName: aws.String(p)})
				if err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&b, "\n  policy %s %s", p, aws.ToString(doc.PolicyDocument))
			}
		}
		is, err := rdsc.DescribeDBInstances(ctx, &awsrds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(twin.DemoInstance)})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range is.DBInstances[0].AssociatedRoles {
			fmt.Fprintf(&b, "\ninstance role %s %s %s", aws.ToString(r.RoleArn), aws.ToString(r.FeatureName), aws.ToString(r.Status))
		}
		return b.String()
	}

	t.Run("dblink-secret-preflight", func(t *testing.T) {
		t.Run("a foreign schema of that name", func(t *testing.T) {
			st := spec["preflight"].Step
			env := envWith(t, nil)
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: probe, NoLookAlike: preflightNoLookAlike}, func(t testing.TB) {
				exec(t, c, "CREATE SCHEMA dblink_secret")
				t.Cleanup(func() { _, _ = c.Exec(context.Background(), "DROP SCHEMA dblink_secret") })
			})
			if ch := st.Check(ctx, env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "schema dblink_secret exists and was not made by cairn") {
				t.Fatalf("want blocked naming the foreign schema, got %+v", ch)
			}
		})
		t.Run("a foreign role of the owner's name", func(t *testing.T) {
			st := spec["preflight"].Step
			env := envWith(t, nil)
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: probe, NoLookAlike: preflightNoLookAlike}, func(t testing.TB) {
				exec(t, c, "CREATE ROLE dblink_secret_owner")
				t.Cleanup(func() { _, _ = c.Exec(context.Background(), "DROP ROLE dblink_secret_owner") })
			})
			if ch := st.Check(ctx, env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "role dblink_secret_owner exists and was not made by cairn") {
				t.Fatalf("want blocked naming the foreign role, got %+v", ch)
			}
		})
		t.Run("the secret deleted", func(t *testing.T) {
			st := spec["preflight"].Step
			env := envWith(t, map[string]string{"secret": "cairn/remote-db/spare"})
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: probe, NoLookAlike: preflightNoLookAlike}, func(t testing.TB) {
				if _, err := smc.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("cairn/remote-db/spare"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			})
			if ch := st.Check(ctx, env); ch.State != steps.Blocked || !strings.Contains(ch.Reason, "does not exist") || ch.Fix == "" {
				t.Fatalf("want blocked naming the missing secret, got %+v", ch)
			}
		})
	})
	if t.Failed() {
		return
	}

	// The deployed chain: the runbook's steps before verify, applied in order, each seeing the
	// earlier steps' outputs.
	outs := map[string]string{}
	for _, id := range order[:len(order)-1] {
		env := envWith(t, outs)
		o, err := spec[id].Step.Apply(ctx, env)
		if err != nil {
			t.Fatalf("setup: apply %s (%s): %v", id, spec[id].Kind, err)
		}
		for k, v := range o {
			outs["steps."+id+"."+k] = v.Value
		}
	}

	t.Run("dblink-secret-verify", func(t *testing.T) {
		st := spec["verify"].Step
		env := envWith(t, outs)
		t.Run("EXECUTE revoked", func(t *testing.T) {
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: probe, NoLookAlike: verifyNoLookAlike}, func(t testing.TB) {
				exec(t, c, "REVOKE EXECUTE ON FUNCTION dblink_secret.connect_remote(text, text) FROM reporting")
				t.Cleanup(func() {
					_, _ = c.Exec(context.Background(), "GRANT EXECUTE ON FUNCTION dblink_secret.connect_remote(text, text) TO reporting")
				})
			})
			if _, err := st.Apply(ctx, env); err == nil || !strings.Contains(err.Error(), "reporting may not execute") {
				t.Fatalf("apply: want a failure naming reporting, got %v", err)
			}
		})
		t.Run("the secret deleted", func(t *testing.T) {
			steptest.RunReadOnly(t, steptest.Case{Step: st, Env: env, Probe: probe, NoLookAlike: verifyNoLookAlike}, func(t testing.TB) {
				if _, err := smc.DeleteSecret(ctx, &secretsmanager.DeleteSecretInput{SecretId: aws.String("cairn/remote-db/app"), ForceDeleteWithoutRecovery: aws.Bool(true)}); err != nil {
					t.Fatal(err)
				}
			})
			_, err := st.Apply(ctx, env)
			if err == nil || !strings.Contains(err.Error(), "connect_remote") {
				t.Fatalf("apply: want connect_remote to fail, got %v", err)
			}
			t.Logf("apply on the spoiled target: %v", err)
		})
	})
}

const (
	preflightNoLookAlike = "it reads the instance, the extensions, the roles, the secret and its remote afresh every run and accepts nothing as done: Check never says done (a foreign schema or role of the step's names is its spoiled-target case)"
	verifyNoLookAlike    = "it proves by doing: reads the grants and makes one real TLS connection through the whole chain every run; Check never says done"
)
