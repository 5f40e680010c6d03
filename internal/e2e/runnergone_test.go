package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// goneRunbook: one step that says it is in flight (DIR/held) and waits for DIR/release.
const goneRunbook = `schema: 1
name: gone
title: A step that waits for a file
parameters:
  - {name: dir, required: true}
steps:
  - id: wait-flag
    kind: exec
    title: Wait for the release file
    with:
      argv: [sh, -c, 'touch "$1/held"; until [ -e "$1/release" ]; do sleep 0.05; done', sh, "${params.dir}"]
`

// A runner killed with SIGKILL says nothing and journals nothing; the views watching its run must
// not go on showing it as running. The plain view that started the run, and a plain attach to it
// afterwards, each end with the runner's pid, the step in flight and `cairn resume`, and exit 8
// (interrupted), never 0 and never "the run goes on".
func TestViewsEndWhenTheRunnerIsKilled(t *testing.T) {
	w := newLightWorld(t)
	dir := testbed.TempDir(t)
	t.Cleanup(func() { os.WriteFile(filepath.Join(dir, "release"), nil, 0o644) }) // the orphaned step's sh
	rb := filepath.Join(dir, "gone.yaml")
	os.WriteFile(rb, []byte(goneRunbook), 0o644)

	view := func(args ...string) (*exec.Cmd, *bytes.Buffer) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		cmd := exec.CommandContext(ctx, w.bin, args...)
		cmd.Env = w.env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd, &out
	}
	exitOf := func(cmd *exec.Cmd) int {
		err := cmd.Wait()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return 0
	}

	started, out := view("run", "gone", "--file", rb, "-p", "dir="+dir, "--no-tui", "--yes")
	waitFile(t, filepath.Join(dir, "held"))
	run := w.onlyRun()
	li, alive := journal.Holder(run)
	if !alive {
		t.Fatalf("no live runner:\n%s", out)
	}
	if err := syscall.Kill(li.PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("run UNFINISHED — the runner died (pid %d) during step wait-flag", li.PID),
		"state: the run is unfinished; step wait-flag was running and may be partly done",
		"next: cairn resume " + run.ID + " (it checks wait-flag first)",
	}
	if code := exitOf(started); code != 8 {
		t.Fatalf("the view of a run whose runner was killed exited %d, want 8 (interrupted):\n%s", code, out)
	}
	for _, s := range want {
		if !strings.Contains(out.String(), s) {
			t.Fatalf("the view does not say %q:\n%s", s, out)
		}
	}
	if strings.Contains(out.String(), "goes on") {
		t.Fatalf("the view says the run goes on:\n%s", out)
	}

	// a view attached later, to a run nobody resumed, says the same rather than wait for a runner
	attached, aout := view("attach", run.ID, "--no-tui")
	if code := exitOf(attached); code != 8 {
		t.Fatalf("attach to a run whose runner was killed exited %d, want 8:\n%s", code, aout)
	}
	for _, s := range want {
		if !strings.Contains(aout.String(), s) {
			t.Fatalf("attach does not say %q:\n%s", s, aout)
		}
	}
}
