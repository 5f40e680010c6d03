package pgcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/cairn-runbooks/cairn/internal/fsutil"
)

// markerFile, inside a template data directory, records what TemplateDir made; Init reads it
// to decide whether the template fits and deletes it from the copy.
const markerFile = "cairn_template.json"

type marker struct {
	Version   int    `json:"version"`
	Superuser string `json:"superuser"`
}

// TemplateDir returns an initdb'd data directory for the major version (0 = newest) with
// superuser "postgres", creating it in cacheRoot/pg<version>/data the first time. Processes
// sharing cacheRoot wait on a lock file while one of them runs initdb. Pass the result as
// Options.Template: copying it is much faster than initdb.
func TemplateDir(ctx context.Context, cacheRoot string, version int) (string, error) {
	bin, version, err := findBin(version)
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	acct, err := currentAccount()
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	name := "pg" + strconv.Itoa(version)
	final := filepath.Join(cacheRoot, name)
	data := filepath.Join(final, "data")
	if usable(data, version, "postgres") {
		return data, nil
	}
	unlock, err := lockFile(ctx, filepath.Join(cacheRoot, name+".lock"))
	if err != nil {
		return "", fmt.Errorf("template %s: %w", final, err)
	}
	defer unlock()
	if usable(data, version, "postgres") {
		return data, nil
	}
	tmp, err := os.MkdirTemp(cacheRoot, name+".tmp-")
	if err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if err := acct.chown(tmp); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if err := acct.canWrite(ctx, tmp); err != nil {
		return "", fmt.Errorf("template: %w", err)
	}
	if err := initdb(ctx, acct, bin, filepath.Join(tmp, "data"), "postgres"); err != nil {
		return "", fmt.Errorf("template %s: %w", final, err)
	}
	b, _ := json.Marshal(marker{Version: version, Superuser: "postgres"})
	if err := os.WriteFile(filepath.Join(tmp, "data", markerFile), b, 0o644); err != nil {
		return "", fmt.Errorf("template %s: %w", final, err)
	}
	if err := os.RemoveAll(final); err != nil {
		return "", fmt.Errorf("template %s: clear a partial one: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return "", fmt.Errorf("template %s: %w", final, err)
	}
	if err := fsutil.SyncDir(filepath.Dir(final)); err != nil {
		return "", fmt.Errorf("template %s: %w", final, err)
	}
	return data, nil
}

// usable reports whether template is a data directory of the version whose superuser (when a
// TemplateDir marker says) is superuser.
func usable(template string, version int, superuser string) bool {
	if template == "" {
		return false
	}
	b, err := os.ReadFile(filepath.Join(template, "PG_VERSION"))
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(version) {
		return false
	}
	mb, err := os.ReadFile(filepath.Join(template, markerFile))
	if errors.Is(err, os.ErrNotExist) {
		return true // someone else's initdb'd directory: trust the caller
	}
	var m marker
	if err != nil || json.Unmarshal(mb, &m) != nil {
		return false
	}
	return m.Version == version && m.Superuser == superuser
}

// lockFile takes an exclusive flock on path, polling so ctx can cancel the wait.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("wait for lock %s: %w", path, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
