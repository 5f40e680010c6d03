package pgdata_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awssm "github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/all"
	"github.com/cairn-runbooks/cairn/steps/steptest"
)

// demoPasswords are the demo's application passwords, as an engineer keeps them in a secret.
const demoPasswords = "cairn/app-db/roles"

// createSecret stores v as JSON in a secret of the twin.
func createSecret(t *testing.T, tb *testbed.TwinSDK, name string, v any) {
	t.Helper()
	b, _ := json.Marshal(v)
	if _, err := tb.SecretsManager.CreateSecret(context.Background(), &awssm.CreateSecretInput{Name: aws.String(name), SecretString: aws.String(string(b))}); err != nil {
		t.Fatal(err)
	}
}

// preflightRefusesPasswordlessLogins: on RDS pg_dumpall cannot read passwords, so a login role
// passwords-secret does not cover would be locked out of the new instance. Both preflights
// (logical's pg-preflight, replicate's pg-replication-preflight) refuse it before anything
// changes, naming the roles and the parameter; a typo'd secret is refused naming the parameter;
// an IAM user (member of rds_iam) and the master are not demanded. It leaves app_iam, an IAM
// login role, on the source, for the globals to carry (its rds_iam membership with it).
func preflightRefusesPasswordlessLogins(t *testing.T, tb *testbed.TwinSDK, vals map[string]string, source string, probe func(testing.TB) string) {
	ctx := context.Background()
	sqlExec(ctx, t, tb.RDS, twin.DemoInstance, "postgres", "CREATE ROLE app_iam LOGIN")
	sqlExec(ctx, t, tb.RDS, twin.DemoInstance, "postgres", "GRANT rds_iam TO app_iam")
	createSecret(t, tb, demoPasswords, map[string]string{"app_rw": "app-rw-demo", "app_ro": "app-ro-demo"})
	createSecret(t, tb, "cairn/app-db/rw-only", map[string]string{"app_rw": "app-rw-demo"})
	createSecret(t, tb, "cairn/app-db/not-json", "app_rw=app-rw-demo")
	for _, kind := range []string{"pg-preflight", "pg-replication-preflight"} {
		for _, c := range []struct {
			secret      string
			blocked     bool
			reason, fix []string // each must be in the check's reason, its fix
			notInReason []string
		}{
			{"", true, []string{"login roles app_ro, app_rw would have no password"}, []string{"-p passwords-secret=<secret>", `"app_ro": "<password>"`}, []string{"app_iam", twin.DemoMaster}},
			{"cairn/app-db/rolez", true, []string{"passwords-secret cairn/app-db/rolez: no such secret"}, []string{"aws secretsmanager list-secrets", "-p passwords-secret=<name>"}, nil},
			{"cairn/app-db/not-json", true, []string{"passwords-secret cairn/app-db/not-json: is not a JSON object"}, []string{`{"app_rw": "<password>"`}, nil},
			{"cairn/app-db/rw-only", true, []string{"login roles app_ro would have no password"}, []string{"add app_ro to passwords-secret cairn/app-db/rw-only"}, []string{"app_rw,", "app_iam"}},
			{demoPasswords, false, nil, nil, nil},
		} {
			t.Run(kind+" with passwords-secret="+c.secret, func(t *testing.T) {
				v := map[string]string{}
				for k, x := range vals {
					v[k] = x
				}
				v["passwords-secret"] = c.secret
				st := steptest.Decode(t, all.Registry(), kind, source+"passwords-secret: \"${params.passwords-secret}\"\n")
				env := steptest.Env(t, v)
				before := probe(t)
				ch := st.Check(ctx, env)
				_, err := st.Apply(ctx, env)
				if after := probe(t); after != before {
					t.Fatalf("the preflight changed the source:\nbefore: %s\nafter:  %s", before, after)
				}
				if !c.blocked {
					if ch.State == steps.Blocked || err != nil {
						t.Fatalf("blocked with every login role's password given: %s (%s); apply: %v", ch.Reason, ch.Fix, err)
					}
					return
				}
				if ch.State != steps.Blocked || err == nil {
					t.Fatalf("not refused: check %s (%s), apply error %v", ch.State, ch.Reason, err)
				}
				if err.Error() != ch.Reason || steps.FixOf(err) != ch.Fix {
					t.Errorf("the apply refused with %q (fix %q), not with the check's reason and fix", err, steps.FixOf(err))
				}
				for _, s := range c.reason {
					if !strings.Contains(ch.Reason, s) {
						t.Errorf("the refusal does not say %q:\n%s", s, ch.Reason)
					}
				}
				for _, s := range c.fix {
					if !strings.Contains(ch.Fix, s) {
						t.Errorf("the fix does not say %q:\n%s", s, ch.Fix)
					}
				}
				for _, s := range c.notInReason {
					if strings.Contains(ch.Reason, s) {
						t.Errorf("the refusal demands %q, which needs no password:\n%s", s, ch.Reason)
					}
				}
			})
		}
	}
	vals["passwords-secret"] = demoPasswords
}
