package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// holdScript is `hold DIR HOLD POINT`: when HOLD is POINT it says so (DIR/held) and waits for
// DIR/release, so the test can stop the runner at exactly that point.
const holdScript = `#!/bin/sh
[ "$2" = "$3" ] || exit 0
touch "$1/held"
until [ -e "$1/release" ]; do sleep 0.02; done
`

// interruptRunbook: three exec steps that each append a line to their own file (the count a test
// reads in the target); b can hold before or after its work, or in its verify, and b's extra YAML
// (a confirmation) comes in via BEXTRA.
const interruptRunbook = `schema: 1
name: interrupt
title: Three steps that each append a line to a file
parameters:
  - {name: dir, required: true}
  - {name: hold, default: none}
steps:
  - id: a
    kind: exec
    title: A appends a line
    with:
      argv: [sh, -c, '"$1/hold" "$1" "$2" a-before && echo a >> "$1/a"', sh, "${params.dir}", "${params.hold}"]
      check: {argv: [test, -s, "${params.dir}/a"]}
  - id: b
    kind: exec
    title: B appends a line
    BEXTRA
    with:
      argv: [sh, -c, '"$1/hold" "$1" "$2" b-before && echo b >> "$1/b" && "$1/hold" "$1" "$2" b-after', sh, "${params.dir}", "${params.hold}"]
      check: {argv: [test, -s, "${params.dir}/b"]}
      verify: {argv: [sh, -c, '"$1/hold" "$1" "$2" b-verify && test -s "$1/b"', sh, "${params.dir}", "${params.hold}"]}
  - id: c
    kind: exec
    title: C appends a line
    with:
      argv: [sh, -c, 'echo c >> "$1/c"', sh, "${params.dir}"]
      check: {argv: [test, -s, "${params.dir}/c"]}
`

// newLightWorld is a world without PostgreSQL: these tests need only files.
func newLightWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, bin: testbed.CairnBinary(t), state: filepath.Join(testbed.TempDir(t), "state")}
	w.env = append(os.Environ(), "CAIRN_STATE_DIR="+w.state)
	t.Cleanup(func() { w.killRunners() })
	return w
}

func lineCount(path string) int {
	b, _ := os.ReadFile(path)
	return strings.Count(string(b), "\n")
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", path)
}

// A runner (`cairn __runner`, its own process) that gets SIGTERM or SIGINT in apply, in verify,
// while a question waits, or between steps ends the run interrupted — never succeeded — with the
// step in flight recorded; `cairn runs` and `cairn report` say so; `cairn resume` finishes the run
// with the step in flight applied at most once more and no finished step repeated, counted in the
// files the steps write.
func TestSignalledRunnerIsInterruptedAndResumes(t *testing.T) {
	points := []struct {
		name  string
		hold  string
		extra string // b's extra YAML
		// pty: run attached on a terminal (no --yes) so b's confirmation waits for a person
		pty bool
		// pause: `cairn pause` while a holds, so the runner waits between a and b
		pause    bool
		stopped  func(recs []events.Event) bool // when to send the signal, besides DIR/held
		atStop   [3]int                         // lines in a, b, c when stopped
		inFlight string                         // "b apply" …; "" between steps
	}{
		{name: "apply-before-its-work", hold: "b-before", atStop: [3]int{1, 0, 0}, inFlight: "b apply"},
		{name: "apply-after-its-work", hold: "b-after", atStop: [3]int{1, 1, 0}, inFlight: "b apply"},
		{name: "verify", hold: "b-verify", atStop: [3]int{1, 1, 0}, inFlight: "b verify"},
		{name: "question", extra: `confirm: "yes"`, pty: true, atStop: [3]int{1, 0, 0}, inFlight: "b confirm",
			stopped: func(r []events.Event) bool { return hasQuestion(r, events.AskConfirm) }},
		{name: "between-steps", hold: "a-before", pause: true, atStop: [3]int{1, 0, 0},
			stopped: func(r []events.Event) bool {
				q := openQuestion(r)
				return q != nil && q.Purpose == events.PurposeResume
			}},
	}
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		for _, p := range points {
			t.Run(sig.String()+"/"+p.name, func(t *testing.T) {
				t.Parallel() // each has its own state directory and files; mostly waiting
				w := newLightWorld(t)
				dir := testbed.TempDir(t)
				os.WriteFile(filepath.Join(dir, "hold"), []byte(holdScript), 0o755)
				rbText := strings.Replace(interruptRunbook, "BEXTRA", p.extra, 1)
				rb := filepath.Join(dir, "interrupt.yaml")
				os.WriteFile(rb, []byte(rbText), 0o644)
				hold := p.hold
				if hold == "" {
					hold = "none"
				}
				args := []string{"run", "interrupt", "--file", rb, "-p", "dir=" + dir, "-p", "hold=" + hold, "--no-tui"}
				var view *exec.Cmd
				if p.pty {
					// `script` gives cairn a terminal for stdin; nobody types on it
					cmdline := w.bin
					for _, a := range args {
						cmdline += " " + shellQuote(a)
					}
					view = exec.Command("script", "-qec", cmdline, "/dev/null")
					view.Env = w.env
					stdin, _ := view.StdinPipe() // held open: the view waits for an answer
					if err := view.Start(); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { stdin.Close(); view.Process.Kill() })
					waitFor(t, func() bool { ids, _ := journal.List(w.state); return len(ids) == 1 })
				} else {
					args = append(args, "--yes", "--detach")
					if _, errOut, code := w.cairn(nil, args...); code != 0 {
						t.Fatalf("run: %d %s", code, errOut)
					}
				}
				run := w.onlyRun()
				if p.hold != "" {
					waitFile(t, filepath.Join(dir, "held"))
				}
				if p.pause {
					if _, errOut, code := w.cairn(nil, "pause", run.ID); code != 0 {
						t.Fatalf("pause: %d %s", code, errOut)
					}
					os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
				}
				if p.stopped != nil {
					w.waitFor(run, "the point to stop at", p.stopped)
				}
				li, alive := journal.Holder(run)
				if !alive {
					t.Fatalf("no live runner:\n%s", readLog(w))
				}
				if err := syscall.Kill(li.PID, sig); err != nil {
					t.Fatal(err)
				}
				recs := w.waitFor(run, "the run's end", func(r []events.Event) bool { return finished(r) != "" })
				waitFor(t, func() bool { _, alive := journal.Holder(run); return !alive }) // the lock goes with the process
				if s := finished(recs); s != events.Interrupted {
					t.Fatalf("a runner stopped by %s ended the run %q\n%s", sig, s, readLog(w))
				}
				if view != nil {
					// the engineer watching sees the run end and gets exit status 8 (interrupted)
					err := view.Wait()
					if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 8 {
						t.Fatalf("the attached view of an interrupted run exited %v, want status 8", err)
					}
				}
				got := [3]int{lineCount(filepath.Join(dir, "a")), lineCount(filepath.Join(dir, "b")), lineCount(filepath.Join(dir, "c"))}
				if got != p.atStop {
					t.Fatalf("lines in a, b, c when stopped: %v, want %v", got, p.atStop)
				}
				var inFlight []string
				for _, e := range recs {
					if e.Type == events.StepInterrupted {
						inFlight = append(inFlight, e.Step+" "+e.Phase)
					}
				}
				if want := p.inFlight; (want == "" && len(inFlight) != 0) || (want != "" && (len(inFlight) != 1 || inFlight[0] != want)) {
					t.Fatalf("step in flight recorded as %v, want %q", inFlight, want)
				}

				out, _, _ := w.cairn(nil, "runs")
				if line := lineWith(out, run.ID); !strings.Contains(line, "interrupted") {
					t.Fatalf("`cairn runs` says %q", line)
				}
				rep, _, _ := w.cairn(nil, "report", run.ID)
				sigWords := map[syscall.Signal]string{syscall.SIGTERM: "terminated signal received", syscall.SIGINT: "interrupt signal received"}[sig]
				if !strings.Contains(rep, "Status: **interrupted**") || !strings.Contains(rep, sigWords) {
					t.Fatalf("the report does not say what happened:\n%s", rep)
				}

				os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
				out, errOut, code := w.cairn(nil, "resume", run.ID, "--yes", "--no-tui")
				if code != 0 {
					t.Fatalf("resume: exit %d\n%s\n%s\n%s", code, out, errOut, readLog(w))
				}
				got = [3]int{lineCount(filepath.Join(dir, "a")), lineCount(filepath.Join(dir, "b")), lineCount(filepath.Join(dir, "c"))}
				if got != [3]int{1, 1, 1} {
					t.Fatalf("lines in a, b, c after the resume: %v, want one each (a step repeated or left undone)\n%s", got, out)
				}
			})
		}
	}
}

func lineWith(text, frag string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, frag) {
			return l
		}
	}
	return ""
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("timed out")
}
