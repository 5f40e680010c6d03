package testbed

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// MermaidParse runs mermaid's own parser (mermaid.parse, under node with jsdom's DOM) on every
// ```mermaid block of markdown: nil when all parse, else the parser's message. The npm packages are
// the ones pinned in scripts/mermaid/package-lock.json (`make deps` runs npm ci there); without node
// or them the test is skipped (failed under CI=true).
func MermaidParse(t testing.TB, markdown string) error {
	t.Helper()
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "scripts", "mermaid")
	Require(t, "node with the pinned mermaid, jsdom and dompurify (make deps)", func() error {
		if _, err := exec.LookPath("node"); err != nil {
			return err
		}
		_, err := os.Stat(filepath.Join(dir, "node_modules", "mermaid", "package.json"))
		return err
	})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "check.mjs")
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(markdown)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &exit) && (exit.ExitCode() == 1 || exit.ExitCode() == 2):
		return errors.New(strings.TrimSpace(stderr.String()))
	}
	t.Fatalf("node check.mjs: %v: %s", err, stderr.String())
	return err
}
