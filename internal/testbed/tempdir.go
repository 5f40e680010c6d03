package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
)

// rootDir holds every TempDir: /var/tmp/cairn-testbed for root, /var/tmp/cairn-testbed-<uid>
// for anyone else. It is 0755, so other OS users can traverse it, and not world-writable.
func rootDir() string {
	if uid := os.Getuid(); uid != 0 {
		return "/var/tmp/cairn-testbed-" + strconv.Itoa(uid)
	}
	return "/var/tmp/cairn-testbed"
}

var errNotRoot = errors.New("needs root (run the tests as root)")

// TempDir is like t.TempDir but reachable by other OS users (the directory and its parents are
// 0755) and not itself world-writable, so a cluster run as "postgres" or a home checked by sshd's
// StrictModes can live in it. It is removed on cleanup.
func TempDir(t testing.TB) string {
	t.Helper()
	root := rootDir()
	if err := mkdir755(root); err != nil {
		t.Fatalf("testbed temp dir: %v", err)
	}
	sweep(root)
	name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	if len(name) > 20 {
		name = name[:20]
	}
	dir, err := os.MkdirTemp(root, fmt.Sprintf("%d-%s-", os.Getpid(), name))
	if err != nil {
		t.Fatalf("testbed temp dir: %v", err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatalf("testbed temp dir: %v", err)
	}
	t.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove testbed temp dir: %v", err)
		}
	})
	return dir
}

// mkdir755 makes dir (and parents) with mode 0755 whatever the umask.
func mkdir755(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.Chmod(dir, 0o755)
}

// sweep removes directories under parent left by test processes that are gone, stopping any
// cluster still running in them first. Names start with the owning process id.
func sweep(parent string) {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		pidText, _, ok := strings.Cut(e.Name(), "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || !e.IsDir() || alive(pid) {
			continue
		}
		dir := filepath.Join(parent, e.Name())
		stopClusters(dir)
		_ = os.RemoveAll(dir)
	}
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// stopClusters stops every cluster found up to two levels under dir.
func stopClusters(dir string) {
	for _, pattern := range []string{"cluster.json", "*/cluster.json", "*/*/cluster.json"} {
		matches, _ := filepath.Glob(filepath.Join(dir, pattern))
		for _, m := range matches {
			c, err := pgcluster.Open(filepath.Dir(m))
			if err != nil {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			_ = c.Remove(ctx)
			cancel()
		}
	}
}
