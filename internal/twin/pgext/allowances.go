package pgext

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// The rds_allowances server hook (hook/rds_allowances.c): what RDS lets members of rds_superuser and
// rds_replication do that stock PostgreSQL 15 lets only a superuser do — CREATE SUBSCRIPTION, CREATE
// PUBLICATION … FOR ALL TABLES, replication slots and logical replication connections. A hook is
// needed because the server checks these with hard-coded superuser() calls and the REPLICATION role
// attribute, which no GRANT and no extension control file reaches. The file's comment says exactly
// what it allows.
//
//go:embed hook/rds_allowances.c hook/Makefile
var hookFiles embed.FS

// AllowancesLibrary is the file name of the built hook.
const AllowancesLibrary = "rds_allowances.so"

// ErrBuildTools means the tools to build the hook are missing; the error says which and how to get them.
var ErrBuildTools = errors.New("build tools missing")

// CacheDir is where built server libraries are kept, reachable by the postgres OS user that loads
// them: /var/cache/cairn as root, else the user's cache directory (the server then runs as the user).
func CacheDir() (string, error) {
	if os.Getuid() == 0 {
		return "/var/cache/cairn", nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(d, "cairn"), nil
}

// BuildAllowances returns the absolute path of the rds_allowances library for the installed
// PostgreSQL major version, building it with PGXS (make, gcc, postgresql-server-dev-<major>,
// libkrb5-dev) the first time into cacheDir/pgext/<hash of the source and the server version>/.
// Processes building at once each build in their own directory and the first rename wins.
func BuildAllowances(ctx context.Context, cacheDir string, major int) (string, error) {
	pgConfig := filepath.Join("/usr/lib/postgresql", strconv.Itoa(major), "bin", "pg_config")
	pkg := fmt.Sprintf("postgresql-server-dev-%d", major)
	fix := fmt.Sprintf("run `make deps` as root (or: apt-get install %s libkrb5-dev gcc make)", pkg)
	version, err := exec.CommandContext(ctx, pgConfig, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook: %w: %s: %v; %s", ErrBuildTools, pgConfig, err, fix)
	}
	h := sha256.New()
	h.Write(version)
	files := []string{"rds_allowances.c", "Makefile"}
	for _, f := range files {
		b, err := fs.ReadFile(hookFiles, "hook/"+f)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "%s %d\n", f, len(b))
		h.Write(b)
	}
	final := filepath.Join(cacheDir, "pgext", hex.EncodeToString(h.Sum(nil))[:16])
	lib := filepath.Join(final, AllowancesLibrary)
	if _, err := os.Stat(lib); err == nil {
		return lib, nil
	}
	pgxs, err := exec.CommandContext(ctx, pgConfig, "--pgxs").Output()
	if err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook: %w: %s --pgxs: %v; %s", ErrBuildTools, pgConfig, err, fix)
	}
	if _, err := os.Stat(strings.TrimSpace(string(pgxs))); err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook: %w: %s is not installed (no %s); %s", ErrBuildTools, pkg, strings.TrimSpace(string(pgxs)), fix)
	}
	// The server's libpq-be.h includes GSSAPI's header (Debian builds PostgreSQL with GSSAPI).
	if _, err := os.Stat("/usr/include/gssapi/gssapi.h"); err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook: %w: libkrb5-dev is not installed (no /usr/include/gssapi/gssapi.h); %s", ErrBuildTools, fix)
	}
	for _, tool := range []string{"make", "gcc"} {
		if _, err := exec.LookPath(tool); err != nil {
			return "", fmt.Errorf("build the rds_allowances server hook: %w: no %s on PATH; %s", ErrBuildTools, tool, fix)
		}
	}
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), ".build-")
	if err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook: %w", err)
	}
	defer os.RemoveAll(tmp)
	for _, f := range files {
		b, _ := fs.ReadFile(hookFiles, "hook/"+f)
		if err := os.WriteFile(filepath.Join(tmp, f), b, 0o644); err != nil {
			return "", fmt.Errorf("build the rds_allowances server hook: %w", err)
		}
	}
	// with_llvm=no: no JIT bitcode, which would need clang and is of no use to a hook.
	cmd := exec.CommandContext(ctx, "make", "-C", tmp, "PG_CONFIG="+pgConfig, "with_llvm=no")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("build the rds_allowances server hook in %s: %v\n%s", tmp, err, tail(out.String(), 20))
	}
	for _, f := range []string{tmp, filepath.Join(tmp, AllowancesLibrary)} {
		if err := os.Chmod(f, 0o755); err != nil {
			return "", fmt.Errorf("build the rds_allowances server hook: %w", err)
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		if _, serr := os.Stat(lib); serr == nil {
			return lib, nil // another process built it first
		}
		return "", fmt.Errorf("build the rds_allowances server hook: %w", err)
	}
	return lib, nil
}

func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
