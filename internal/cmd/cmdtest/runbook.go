package cmdtest

import (
	"os"
	"path/filepath"
	"testing"
)

// TouchIt is a runbook of one destructive step that touches the file ${params.path}.
const TouchIt = `schema: 1
name: touch-it
title: Touch a file
description: |
  Touches one file.
parameters:
  - {name: path, required: true, help: the file}
steps:
  - id: touch
    kind: exec
    title: touch the file
    destructive: true
    with:
      argv: [touch, "${params.path}"]
`

// RunbookFile writes a runbook's text to a file of its own, for --file, and returns its path.
func RunbookFile(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "runbook.yaml")
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
