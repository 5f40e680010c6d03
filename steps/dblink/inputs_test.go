package dblink

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/steps"
)

// A value that would end the dollar quote or a literal of connect_remote's body is refused by Check
// (so at plan time, before anything changes), naming the parameter and what it must look like.
func TestHostileValuesRefusedByCheck(t *testing.T) {
	const arn = "arn:aws:lambda:us-east-1:000000000000:function:cairn-dblink-secret"
	base := func() *Function {
		return &Function{
			Target:       Target{Instance: ref.MustParse("app-db")},
			Schema:       ref.MustParse("dblink_secret"),
			Secrets:      []ref.Template{ref.MustParse("remote-db")},
			FunctionArn:  ref.MustParse(arn),
			LambdaRegion: ref.MustParse("us-east-1"),
			SSLRootCert:  ref.MustParse("/etc/ssl/rds-ca-bundle.pem"),
			GrantTo:      ref.MustParse("app_rw"),
		}
	}
	escape := "$cairn_fn$; ALTER ROLE app_rw SUPERUSER; --"
	tests := []struct {
		name string
		set  func(f *Function)
		want string
	}{
		{"ssl-root-cert ends the dollar quote", func(f *Function) { f.SSLRootCert = ref.MustParse("/x" + escape) }, "ssl-root-cert"},
		{"ssl-root-cert ends a literal", func(f *Function) { f.SSLRootCert = ref.MustParse("/x'||pg_read_file('/etc/passwd')||'") }, "ssl-root-cert"},
		{"ssl-root-cert with a newline", func(f *Function) { f.SSLRootCert = ref.MustParse("/x\n/y") }, "ssl-root-cert"},
		{"ssl-root-cert relative", func(f *Function) { f.SSLRootCert = ref.MustParse("ca.pem") }, "ssl-root-cert"},
		{"lambda-region ends the dollar quote", func(f *Function) { f.LambdaRegion = ref.MustParse("us-east-1" + escape) }, "lambda-region"},
		{"lambda-region ends a literal", func(f *Function) { f.LambdaRegion = ref.MustParse("us-east-1'); SELECT 1; --") }, "lambda-region"},
		{"function-arn ends a literal", func(f *Function) { f.FunctionArn = ref.MustParse(arn + "'" + escape) }, "function-arn"},
		{"function-arn of another service", func(f *Function) { f.FunctionArn = ref.MustParse("arn:aws:iam::000000000000:role/x") }, "function-arn"},
	}
	env := &steps.Env{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			tt.set(f)
			c := f.Check(context.Background(), env)
			if c.State != steps.Blocked || !strings.Contains(c.Reason, tt.want) {
				t.Fatalf("Check = %v %q (fix %q), want Blocked naming %s", c.State, c.Reason, c.Fix, tt.want)
			}
			if _, err := f.Apply(context.Background(), env); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Apply = %v, want the same refusal", err)
			}
		})
	}
	// The legitimate values pass these checks (a region may be empty: the instance's own).
	for _, region := range []string{"us-east-1", "us-gov-west-1", "cn-northwest-1", ""} {
		f := base()
		f.LambdaRegion = ref.MustParse(region)
		if _, err := f.resolve(env, false); err != nil {
			t.Errorf("region %q refused: %v", region, err)
		}
	}
	f := base()
	f.FunctionArn = ref.MustParse(arn + ":$LATEST")
	if _, err := f.resolve(env, false); err != nil {
		t.Errorf("a qualified ARN refused: %v", err)
	}
}

// The dollar quote's tag never occurs in the body, and PostgreSQL stores the body exactly as built:
// connect_remote's real body (with legitimate values, validated by PL/pgSQL) and a body that holds the
// old fixed tag and lookalikes of the new one.
func TestDollarQuoteOnPostgreSQL(t *testing.T) {
	pg := testbed.Postgres(t)
	pg.Exec(t, "postgres", "CREATE SCHEMA dblink_secret")
	pg.Exec(t, "postgres", "CREATE TABLE dblink_secret.allowed_secrets (secret_id text PRIMARY KEY)")
	real := Body("dblink_secret", "arn:aws:lambda:us-east-1:000000000000:function:f:$LATEST", "us-east-1", "/etc/ssl/rds-ca-bundle.pem", "public")
	tricky := "BEGIN RETURN '$cairn_fn$ $cairn_fn_$ $cairn_fn_0123456789ab$ $$'; END"
	for name, body := range map[string]string{"connect_remote": real, "tricky": tricky} {
		q := dollarQuote(body)
		tag := q[:strings.Index(q[1:], "$")+2]
		if strings.Contains(body, tag) || !strings.HasPrefix(q, tag+body) || !strings.HasSuffix(q, body+tag) {
			t.Fatalf("%s: tag %s occurs in the body, or the quote is not tag+body+tag", name, tag)
		}
		pg.Exec(t, "postgres", "CREATE FUNCTION dblink_secret.f_"+strings.ReplaceAll(name, "-", "_")+"(conn_name text, secret_id text) RETURNS text LANGUAGE plpgsql AS "+q)
		c := pg.Conn(t, "postgres", pg.Cluster.Superuser)
		var src string
		if err := c.QueryRow(context.Background(), "SELECT prosrc FROM pg_proc WHERE proname = $1", "f_"+name).Scan(&src); err != nil {
			t.Fatal(err)
		}
		if src != body {
			t.Fatalf("%s: PostgreSQL holds another body:\n%s", name, src)
		}
	}
	var got string
	c := pg.Conn(t, "postgres", pg.Cluster.Superuser)
	if err := c.QueryRow(context.Background(), "SELECT dblink_secret.f_tricky('a', 'b')").Scan(&got); err != nil || got != "$cairn_fn$ $cairn_fn_$ $cairn_fn_0123456789ab$ $$" {
		t.Fatalf("tricky body returned %q, %v", got, err)
	}
}
