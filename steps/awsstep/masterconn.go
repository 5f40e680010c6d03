package awsstep

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/steps"
)

// GlobalBundleURL is where AWS publishes the CA bundle RDS certificates chain to.
const GlobalBundleURL = "https://truststore.pki.rds.amazonaws.com/global/global-bundle.pem"

// CABundle is the RDS CA bundle a connection carrying a master password verifies the instance
// against: the twin's own bundle in a rehearsal (CAIRN_TWIN_CA_BUNDLE, set by the twin's
// environment), else PGSSLROOTCERT. With neither, or a file that is not there, it is an error that
// says how to get the bundle: cairn never sends a master password to an unverified server.
func CABundle(env *steps.Env) (string, error) {
	ca, from := env.Env("CAIRN_TWIN_CA_BUNDLE"), "CAIRN_TWIN_CA_BUNDLE"
	if ca == "" {
		ca, from = env.Env("PGSSLROOTCERT"), "PGSSLROOTCERT"
	}
	how := fmt.Sprintf("download it (curl -fsSo /etc/ssl/certs/rds-global-bundle.pem %s) and export PGSSLROOTCERT=/etc/ssl/certs/rds-global-bundle.pem", GlobalBundleURL)
	switch {
	case ca == "" || ca == "system":
		return "", steps.Failed(how, "no RDS CA bundle to verify the instance's certificate: cairn sends a master password only over TLS verified against it (sslmode=verify-full)")
	case strings.ContainsAny(ca, "\r\n\x00"):
		return "", fmt.Errorf("%s holds a line break: give the bundle's path", from)
	}
	if _, err := os.Stat(ca); err != nil {
		return "", steps.Failed(how, "the RDS CA bundle %s=%s cannot be read (%v)", from, ca, errors.Unwrap(err))
	}
	return ca, nil
}

// MasterConfig is the connection to an instance for a login that carries its master password:
// TLS with sslmode=verify-full against CABundle (whatever PGSSLMODE says), and require_auth=!password
// so that a server asking for the password in cleartext is refused before it is sent. User and
// password come from the caller, or from libpq's environment (PGUSER, PGPASSWORD, .pgpass) when
// empty.
func MasterConfig(env *steps.Env, ep Endpoint, database, user, password string) (*pgx.ConnConfig, error) {
	ca, err := CABundle(env)
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(MasterConnString(ep, database, ca))
	if err != nil {
		return nil, fmt.Errorf("connection to %s:%d: %w", ep.Host, ep.Port, err)
	}
	cfg.Fallbacks = nil // verify-full, or nothing: no fallback to a plain connection
	if user != "" {
		cfg.User = user
	}
	if password != "" {
		cfg.Password = password
	}
	cfg.RuntimeParams["application_name"] = "cairn"
	return cfg, nil
}

// MasterConnString is the libpq connection string of MasterConfig, for a CA bundle from CABundle.
// The host is in it (not set afterwards), so TLS checks the certificate against that name.
func MasterConnString(ep Endpoint, database, ca string) string {
	q := func(v string) string { return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'" }
	return fmt.Sprintf("host=%s port=%d dbname=%s sslmode=verify-full sslrootcert=%s require_auth=!password connect_timeout=10",
		q(ep.Host), ep.Port, q(database), q(ca))
}

// MasterLibpqEnv are the libpq variables that give a client tool (pg_dump, psql) the same
// guarantees; they replace any PGSSLMODE, PGSSLROOTCERT or PGREQUIREAUTH of cairn's environment.
// libpq before 16 ignores PGREQUIREAUTH: with it, verify-full still proves the server is the
// instance before any password is sent.
func MasterLibpqEnv(ca string) []string {
	return []string{"PGSSLMODE=verify-full", "PGSSLROOTCERT=" + ca, "PGREQUIREAUTH=!password"}
}
