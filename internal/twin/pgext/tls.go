package pgext

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"time"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// TLS holds the twin's certificate authority and the server certificate every instance presents.
type TLS struct {
	// CABundle is the PEM file clients verify against (sslrootcert), like RDS's global bundle.
	CABundle string
	CertFile string
	KeyFile  string
}

// Settings are the postgresql.conf settings that turn TLS on with the server certificate.
func (t TLS) Settings() map[string]string {
	return map[string]string{"ssl": "on", "ssl_cert_file": t.CertFile, "ssl_key_file": t.KeyFile}
}

// EnsureTLS makes, once per state directory, a CA and a server certificate for 127.0.0.1 and
// localhost (the address instances report) signed by it, in dir/tls. The key belongs to the OS user
// that runs the clusters (postgres when the twin runs as root), mode 0600, as PostgreSQL requires.
func EnsureTLS(dir string) (TLS, error) {
	tdir := filepath.Join(dir, "tls")
	t := TLS{CABundle: filepath.Join(tdir, "rds-ca-bundle.pem"), CertFile: filepath.Join(tdir, "server.crt"), KeyFile: filepath.Join(tdir, "server.key")}
	if _, err := os.Stat(t.KeyFile); err == nil {
		return t, nil
	}
	if err := os.MkdirAll(tdir, 0o755); err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	if err := os.Chmod(tdir, 0o755); err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	caTmpl := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{Organization: []string{"cairn twin"}, CommonName: "cairn twin RDS CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(10, 0, 0), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return t, fmt.Errorf("tls: CA: %w", err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	leaf := &x509.Certificate{
		SerialNumber: serial(), Subject: pkix.Name{Organization: []string{"cairn twin"}, CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(5, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		return t, fmt.Errorf("tls: server certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(t.CABundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644); err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	if err := os.WriteFile(t.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: leafDER}), 0o644); err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return t, fmt.Errorf("tls: the postgres OS user: %w", err)
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if err := fsutil.WriteAtomicAs(t.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600, uid, gid); err != nil {
		return t, fmt.Errorf("tls: %w", err)
	}
	return t, nil
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return n
}
