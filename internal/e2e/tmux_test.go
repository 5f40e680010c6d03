package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/testbed"
)

// tmux drives the real binary in a real terminal.
type tmux struct {
	t       *testing.T
	session string
}

func newTmux(t *testing.T, w, h int) *tmux {
	testbed.Require(t, "tmux", func() error { _, err := exec.LookPath("tmux"); return err })
	s := &tmux{t: t, session: testbed.UniqueName(t, "cairn")}
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", s.session, "-x", itoa(w), "-y", itoa(h)).CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("tmux", "kill-session", "-t", s.session).Run() })
	return s
}

func (s *tmux) send(pane string, keys ...string) {
	args := append([]string{"send-keys", "-t", s.session + pane}, keys...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v %s", err, out)
	}
}

func (s *tmux) typeText(pane, text string) {
	if out, err := exec.Command("tmux", "send-keys", "-t", s.session+pane, "-l", text).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys -l: %v %s", err, out)
	}
}

func (s *tmux) screen(pane string) string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.session+pane).Output()
	return string(out)
}

func (s *tmux) waitFor(pane, text string) string {
	s.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if sc := s.screen(pane); strings.Contains(sc, text) {
			return sc
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("pane %s never showed %q; screen:\n%s", pane, text, s.screen(pane))
	return ""
}

// The wizard in a real terminal: choose the sample runbook, fill the form, review the plan, run,
// tick the checklist, finish — while a second pane running `cairn follow` shows the same steps done.
func TestWizardInTmux(t *testing.T) {
	w := newWorld(t)
	tm := newTmux(t, 100, 30)
	envFile := filepath.Join(testbed.TempDir(t), "env.sh")
	var b strings.Builder
	for _, kv := range w.env {
		if strings.HasPrefix(kv, "CAIRN_") || strings.HasPrefix(kv, "PG") {
			b.WriteString("export " + shellQuote(kv) + "\n")
		}
	}
	os.WriteFile(envFile, []byte(b.String()), 0o644)
	role := testbed.UniqueName(t, "tui")
	tm.send(".0", "source "+envFile+"; "+w.bin, "Enter")
	tm.waitFor(".0", "sample-role")
	tm.send(".0", "/")
	tm.typeText(".0", "sample")
	time.Sleep(200 * time.Millisecond)
	tm.send(".0", "Enter") // keep the filter
	time.Sleep(200 * time.Millisecond)
	tm.send(".0", "Enter") // choose
	tm.waitFor(".0", "Parameters · sample-role")
	// each key goes in only once the form shows the field focused (┃), so a loaded machine cannot
	// send a value into the previous field
	tm.waitFor(".0", "┃ conn")
	tm.send(".0", "Enter") // conn: libpq environment
	tm.waitFor(".0", "┃ role")
	tm.typeText(".0", role)
	tm.send(".0", "Enter")
	tm.waitFor(".0", "┃ schema")
	tm.send(".0", "Enter") // schema: derived
	tm.waitFor(".0", "┃ role-password")
	tm.typeText(".0", "tui-secret-pw")
	tm.send(".0", "Enter")
	tm.waitFor(".0", "┃ hold-lock")
	tm.send(".0", "Enter") // hold-lock: none
	plan := tm.waitFor(".0", "CREATE ROLE")
	if strings.Contains(plan, "tui-secret-pw") {
		t.Fatal("the plan shows the secret")
	}
	tm.send(".0", "Enter") // start
	tm.waitFor(".0", "Tick each item")
	// a second pane follows the same run read-only
	if out, err := exec.Command("tmux", "split-window", "-t", tm.session, "-v").CombinedOutput(); err != nil {
		t.Fatalf("split: %v %s", err, out)
	}
	ids, _ := journal.List(w.state)
	if len(ids) != 1 {
		t.Fatalf("runs: %v", ids)
	}
	tm.send(".1", "source "+envFile+"; "+w.bin+" follow "+ids[0]+" --no-tui", "Enter")
	tm.waitFor(".1", "Tick each item")
	tm.waitFor(".0", "● ready") // the type-ahead guard: keys count once the question says so
	tm.send(".0", "Space")
	time.Sleep(200 * time.Millisecond)
	tm.send(".0", "Enter")
	tm.waitFor(".0", "run succeeded")
	follow := tm.waitFor(".1", "run SUCCEEDED")
	for _, step := range []string{"[create-role] done", "[grant-read] done", "[prove-access] done"} {
		if !strings.Contains(follow, step) && !strings.Contains(tm.history(".1"), step) {
			t.Errorf("follower did not show %q", step)
		}
	}
	if n := w.pg.QueryInt(t, "postgres", "SELECT count(*) FROM pg_roles WHERE rolname = $1", role); n != 1 {
		t.Fatal("role not created through the TUI")
	}
	tm.send(".0", "q")
}

func (s *tmux) history(pane string) string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-S", "-2000", "-t", s.session+pane).Output()
	return string(out)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
