package awsstep_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin/pgext"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
)

// A login carrying a master password, on a real PostgreSQL with TLS: it verifies the server's
// certificate against the CA bundle (another CA is refused), it refuses a server that asks for the
// password in cleartext — before sending it —, whatever PGSSLMODE says, and without a bundle it
// refuses to connect at all, saying how to get one.
func TestMasterConnectionVerifiesAndRefusesCleartext(t *testing.T) {
	testbed.RequireRoot(t, "the server key belongs to the postgres OS user")
	dir := testbed.TempDir(t)
	tls, err := pgext.EnsureTLS(filepath.Join(dir, "ca"))
	if err != nil {
		t.Fatal(err)
	}
	other, err := pgext.EnsureTLS(filepath.Join(dir, "other-ca"))
	if err != nil {
		t.Fatal(err)
	}
	pg := testbed.Postgres(t, testbed.WithSettings(tls.Settings()))
	pg.Exec(t, "postgres", "SET password_encryption = 'scram-sha-256'; CREATE ROLE master LOGIN PASSWORD 'the-master-password'")
	hba := func(method string) {
		t.Helper()
		b := "local all all trust\nhostssl all all 127.0.0.1/32 " + method + "\n"
		if err := os.WriteFile(filepath.Join(pg.DataDir, "pg_hba.conf"), []byte(b), 0o644); err != nil {
			t.Fatal(err)
		}
		pg.Exec(t, "postgres", "SELECT pg_reload_conf()")
	}
	ctx := context.Background()
	ep := awsstep.Endpoint{Host: "127.0.0.1", Port: pg.Port}
	connect := func(env map[string]string) error {
		e := &steps.Env{Getenv: func(k string) string { return env[k] }}
		cfg, err := awsstep.MasterConfig(e, ep, "postgres", "master", "the-master-password")
		if err != nil {
			return err
		}
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err == nil {
			c.Close(ctx)
		}
		return err
	}

	hba("scram-sha-256")
	if err := connect(map[string]string{"CAIRN_TWIN_CA_BUNDLE": tls.CABundle, "PGSSLMODE": "disable"}); err != nil {
		t.Fatalf("verify-full with the right CA and SCRAM: %v", err)
	}
	if err := connect(map[string]string{"PGSSLROOTCERT": tls.CABundle}); err != nil {
		t.Fatalf("verify-full with PGSSLROOTCERT: %v", err)
	}
	if err := connect(map[string]string{"PGSSLROOTCERT": other.CABundle}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server whose certificate another CA signed: %v, want a certificate error", err)
	}
	for _, env := range []map[string]string{{}, {"PGSSLROOTCERT": "system"}, {"PGSSLROOTCERT": filepath.Join(dir, "missing.pem")}} {
		if err := connect(env); err == nil || !strings.Contains(err.Error(), "RDS CA bundle") || !strings.Contains(steps.FixOf(err), awsstep.GlobalBundleURL) || !strings.Contains(steps.FixOf(err), "PGSSLROOTCERT") {
			t.Fatalf("without a usable bundle (%v): %v (fix %q), want a refusal with how to get one as its fix", env, err, steps.FixOf(err))
		}
	}

	// A server asking for the password in cleartext never gets it: the client refuses the request.
	hba("password")
	err = connect(map[string]string{"CAIRN_TWIN_CA_BUNDLE": tls.CABundle})
	if err == nil || !strings.Contains(err.Error(), "require_auth") {
		t.Fatalf("cleartext password authentication: %v, want a refusal by require_auth", err)
	}
	t.Logf("cleartext refused: %v", err)
}
