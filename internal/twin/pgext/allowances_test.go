package pgext_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/pgcluster"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/twin/pgext"
)

// TestBuildAllowances builds the hook into an empty cache once, finds it there the second time, and
// says what to install when the server's build files are missing. The twin's fidelity suite tests
// what the hook allows and refuses.
func TestBuildAllowances(t *testing.T) {
	major, err := pgcluster.Installed()
	if err != nil {
		t.Skip(err)
	}
	ctx := context.Background()
	cache := testbed.TempDir(t)
	lib, err := pgext.BuildAllowances(ctx, cache, major)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(lib)
	if err != nil || !strings.HasPrefix(string(b), "\x7fELF") || !strings.HasPrefix(lib, cache) {
		t.Fatalf("built %s (%v): not a shared library in the cache", lib, err)
	}
	if again, err := pgext.BuildAllowances(ctx, cache, major); err != nil || again != lib {
		t.Errorf("second build = %s, %v; want the cached %s", again, err, lib)
	}
	_, err = pgext.BuildAllowances(ctx, cache, 99)
	if !errors.Is(err, pgext.ErrBuildTools) || !strings.Contains(err.Error(), "make deps") || !strings.Contains(err.Error(), "postgresql-server-dev-99") {
		t.Errorf("build for a PostgreSQL that is not installed: %v; want ErrBuildTools naming the package and `make deps`", err)
	}
}
