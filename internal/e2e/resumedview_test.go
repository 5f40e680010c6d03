package e2e

import (
	"context"
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

// A run stopped with SIGTERM and resumed has the first runner's run.finished (interrupted) in its
// journal; the views opened on the resumed run while it is live — `cairn follow --no-tui`,
// `cairn attach --no-tui` with nothing on stdin, and `cairn follow` in a terminal — stay with it
// and see its last step and its end, rather than leave at the earlier runner's finish ("left the
// view; the run goes on…", "the record stream ended before the run did").
func TestViewsOfAResumedRunStayUntilItEnds(t *testing.T) {
	w := newLightWorld(t)
	dir := testbed.TempDir(t)
	t.Cleanup(func() { os.WriteFile(filepath.Join(dir, "release"), nil, 0o644) })
	os.WriteFile(filepath.Join(dir, "hold"), []byte(holdScript), 0o755)
	rb := filepath.Join(dir, "interrupt.yaml")
	os.WriteFile(rb, []byte(strings.Replace(interruptRunbook, "BEXTRA", "", 1)), 0o644)
	if _, errOut, code := w.cairn(nil, "run", "interrupt", "--file", rb, "-p", "dir="+dir, "-p", "hold=b-before", "--yes", "--detach"); code != 0 {
		t.Fatalf("run: %d %s", code, errOut)
	}
	run := w.onlyRun()
	waitFile(t, filepath.Join(dir, "held"))
	li, alive := journal.Holder(run)
	if !alive {
		t.Fatalf("no live runner:\n%s", readLog(w))
	}
	if err := syscall.Kill(li.PID, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	w.waitFor(run, "the interrupted finish", func(r []events.Event) bool { return finished(r) == events.Interrupted })
	waitFor(t, func() bool { _, alive := journal.Holder(run); return !alive })

	// resumed, b holds again: the run is live
	os.Remove(filepath.Join(dir, "held"))
	if _, errOut, code := w.cairn(nil, "resume", run.ID, "--yes", "--detach"); code != 0 {
		t.Fatalf("resume: %d %s", code, errOut)
	}
	waitFile(t, filepath.Join(dir, "held"))

	type view struct {
		name string
		cmd  *exec.Cmd
		out  string // file with its stdout and stderr
	}
	start := func(name string, args ...string) view {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		t.Cleanup(cancel)
		v := view{name: name, cmd: exec.CommandContext(ctx, w.bin, args...), out: filepath.Join(dir, name+".out")}
		f, err := os.Create(v.out)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		v.cmd.Env, v.cmd.Stdout, v.cmd.Stderr = w.env, f, f // stdin: /dev/null
		if err := v.cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return v
	}
	views := []view{start("follow", "follow", run.ID, "--no-tui"), start("attach", "attach", run.ID, "--no-tui")}
	for _, v := range views {
		// the view has read past the earlier runner's finish before the run goes on
		waitFor(t, func() bool { b, _ := os.ReadFile(v.out); return strings.Contains(string(b), "run resumed by") })
	}
	tm := newTmux(t, 100, 30)
	tm.send(".0", "CAIRN_STATE_DIR="+shellQuote(w.state)+" "+w.bin+" follow "+run.ID, "Enter")
	tm.waitFor(".0", "C appends a line")

	os.WriteFile(filepath.Join(dir, "release"), nil, 0o644)
	for _, v := range views {
		err := v.cmd.Wait()
		b, _ := os.ReadFile(v.out)
		if err != nil {
			t.Fatalf("%s of the resumed run ended %v, want exit 0 with the run:\n%s", v.name, err, b)
		}
		for _, s := range []string{"[c] applied", "run SUCCEEDED"} {
			if !strings.Contains(string(b), s) {
				t.Fatalf("%s of the resumed run does not show %q:\n%s", v.name, s, b)
			}
		}
	}
	sc := tm.waitFor(".0", "run succeeded")
	if strings.Contains(sc, "stream ended") {
		t.Fatalf("the TUI follow says the stream ended:\n%s", sc)
	}
}
