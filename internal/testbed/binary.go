package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cairnBuild is the one build of ./cmd/cairn per test process. It is the package's only state:
// building once is what keeps dozens of CLI tests fast.
var cairnBuild struct {
	once sync.Once
	path string
	err  error
}

// CairnBinary builds ./cmd/cairn once per test process (later calls reuse it) and returns the
// binary's path. The binary lives in a 0755 directory, so other OS users can run it; it is
// removed by the sweep once the test process has exited.
func CairnBinary(t testing.TB) string {
	t.Helper()
	cairnBuild.once.Do(func() {
		cairnBuild.path, cairnBuild.err = buildOnce("./cmd/cairn", "cairn")
	})
	if cairnBuild.err != nil {
		t.Fatalf("build cairn: %v", cairnBuild.err)
	}
	return cairnBuild.path
}

func buildOnce(pkg, name string) (string, error) {
	modRoot, err := moduleRoot()
	if err != nil {
		return "", err
	}
	root := rootDir()
	if err := mkdir755(root); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(root, fmt.Sprintf("%d-bin-", os.Getpid()))
	if err != nil {
		return "", err
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out := filepath.Join(dir, name)
	if err := goBuild(ctx, modRoot, pkg, out); err != nil {
		return "", err
	}
	return out, nil
}

// goBuild runs go build -o out pkg in dir.
func goBuild(ctx context.Context, dir, pkg, out string) error {
	goTool, err := exec.LookPath("go")
	if err != nil {
		if r := os.Getenv("GOROOT"); r != "" {
			goTool = filepath.Join(r, "bin", "go")
		} else {
			return fmt.Errorf("find the go tool: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", out, pkg)
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s %s: %w\n%s", out, pkg, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// moduleRoot walks up from the working directory (a test's package directory) to go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find module root: no go.mod above the working directory")
		}
		dir = parent
	}
}
