package tui_test

import (
	"context"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/colorprofile"
	"github.com/charmbracelet/x/ansi"
	"github.com/charmbracelet/x/exp/teatest/v2"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui"
)

func TestMain(m *testing.M) {
	time.Local = time.UTC
	os.Exit(m.Run())
}

// t0 is the fixed clock: 02:14 on a maintenance night.
var t0 = time.Date(2026, 11, 26, 2, 14, 0, 0, time.UTC)

func clock() time.Time { return t0.Add(95 * time.Second) }

var sizes = []struct {
	name string
	w, h int
}{{"80x24", 80, 24}, {"160x48", 160, 48}}

// fakeSource is a RunSource fed a scripted event sequence; answers are recorded and may trigger
// more events (the runner's reaction).
type fakeSource struct {
	id      string
	ch      chan events.Event
	mu      sync.Mutex
	seq     int64
	answers []events.Answer
	notes   []string
	react   func(f *fakeSource, a events.Answer)
}

func newFake(id string) *fakeSource {
	return &fakeSource{id: id, ch: make(chan events.Event, 4096)}
}

func (f *fakeSource) Events() <-chan events.Event { return f.ch }
func (f *fakeSource) RunID() string               { return f.id }
func (f *fakeSource) Note(_ context.Context, s string) error {
	f.mu.Lock()
	f.notes = append(f.notes, s)
	f.mu.Unlock()
	return nil
}
func (f *fakeSource) Answer(_ context.Context, a events.Answer) error {
	f.mu.Lock()
	f.answers = append(f.answers, a)
	react := f.react
	f.mu.Unlock()
	if react != nil {
		react(f, a)
	}
	return nil
}

func (f *fakeSource) Answers() []events.Answer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]events.Answer(nil), f.answers...)
}

// emit sends one record; at is seconds after t0.
func (f *fakeSource) emit(at int, e events.Event) {
	f.mu.Lock()
	f.seq++
	e.V, e.Seq = events.Version, f.seq
	f.mu.Unlock()
	e.Time = t0.Add(time.Duration(at) * time.Second)
	f.ch <- e
}

func sampleRunInfo(id string) *events.RunInfo {
	return &events.RunInfo{
		ID: id, Runbook: "rds-encrypt", Title: "Encrypt an RDS instance", Target: "rehearsal twin",
		WindowEnd: t0.Add(45 * time.Minute),
		Params:    map[string]string{"instance": "app-db", "password": "••••"},
		Steps: []events.StepInfo{
			{ID: "snapshot", Title: "Snapshot the instance", Kind: "rds.snapshot",
				Notes:   "Take a **manual snapshot** first.\n\nIt is what we roll back to; it takes a few minutes for a 100 GB volume.",
				Actions: []string{"rds CreateDBSnapshot app-db → app-db-pre-kms"}},
			{ID: "copy", Title: "Copy the snapshot with the KMS key", Kind: "rds.copy-snapshot",
				Notes:   "Copying re-encrypts every block with `alias/app-db`.",
				Actions: []string{"rds CopyDBSnapshot app-db-pre-kms → app-db-enc (kms alias/app-db)"}},
			{ID: "stop-app", Title: "Stop the application", Kind: "host.systemd", Confirm: "yes",
				Actions: []string{"ssh app-1: systemctl stop app"}},
			{ID: "swap", Title: "Restore and swap the instance", Kind: "rds.restore", Destructive: true, Confirm: "typed",
				Notes:   "From here on the old instance is **renamed**; rollback renames it back.",
				Actions: []string{"rds RestoreDBInstanceFromDBSnapshot app-db-enc", "rds ModifyDBInstance app-db → app-db-old"}},
			{ID: "verify", Title: "Verify the application", Kind: "pg.sql",
				Actions: []string{"psql app-db: SELECT count(*) FROM orders"}},
		},
	}
}

func timings(string) map[string]time.Duration {
	return map[string]time.Duration{"snapshot": 4 * time.Minute, "copy": 12 * time.Minute, "stop-app": 30 * time.Second, "swap": 20 * time.Minute, "verify": time.Minute}
}

func sampleRunbooks() []*runbooks.Runbook {
	return []*runbooks.Runbook{
		{
			Name: "rds-encrypt", Title: "Encrypt an RDS instance",
			Description: "Snapshot, copy with a KMS key, restore and swap an unencrypted RDS instance.\nMore text.",
			Parameters: []*runbooks.Param{
				{Name: "instance", Type: runbooks.TString, Required: true, Pattern: "[a-z][a-z0-9-]*", Help: "the RDS instance id"},
				{Name: "target", Type: runbooks.TString, Default: ref.MustParse("${params.instance}-enc")},
				{Name: "mode", Type: runbooks.TEnum, Values: []string{"swap", "side-by-side"}, Default: ref.MustParse("swap")},
				{Name: "keep_old", Type: runbooks.TBool, Default: ref.MustParse("true")},
				{Name: "app_password", Type: runbooks.TString, Secret: true},
			},
			Steps: []*runbooks.StepSpec{{ID: "snapshot"}, {ID: "copy"}, {ID: "stop-app"}, {ID: "swap"}, {ID: "verify"}},
		},
		{
			Name: "pg-upgrade", Title: "Upgrade PostgreSQL in place",
			Description: "pg_upgrade with hard links, analyze, and a cut-back path.",
			Steps:       []*runbooks.StepSpec{{ID: "a"}, {ID: "b"}, {ID: "c"}},
		},
	}
}

// probe wraps the root model so a test can read the current screen while the program runs.
type probe struct{ tui.Model }

type screenReq chan string

func (p probe) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	if r, ok := msg.(screenReq); ok {
		r <- plain(p.Model.View().Content)
		return p, nil
	}
	m, cmd := p.Model.Update(msg)
	return probe{m.(tui.Model)}, cmd
}

// plain strips colour and trailing blanks: goldens are what a NO_COLOR terminal shows.
func plain(s string) string {
	lines := strings.Split(ansi.Strip(s), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight(l, " ")
	}
	return strings.Join(lines, "\n")
}

func start(t *testing.T, m tui.Model, w, h int) *teatest.TestModel {
	t.Helper()
	return teatest.NewTestModel(t, probe{m},
		teatest.WithInitialTermSize(w, h),
		teatest.WithProgramOptions(tea.WithColorProfile(colorprofile.Ascii)))
}

func screen(t *testing.T, tm *teatest.TestModel) string {
	t.Helper()
	r := make(screenReq, 1)
	tm.Send(r)
	select {
	case s := <-r:
		return s
	case <-time.After(3 * time.Second):
		t.Fatal("no screen: the program is not answering")
		return ""
	}
}

// waitScreen waits until the screen holds every want, and returns it.
func waitScreen(t *testing.T, tm *teatest.TestModel, want ...string) string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	var s string
	for time.Now().Before(deadline) {
		s = screen(t, tm)
		ok := true
		for _, w := range want {
			ok = ok && strings.Contains(s, w)
		}
		if ok {
			return s
		}
		time.Sleep(15 * time.Millisecond)
	}
	t.Fatalf("screen never showed %q; last screen:\n%s", want, s)
	return ""
}

func waitAnswers(t *testing.T, f *fakeSource, n int) []events.Answer {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if a := f.Answers(); len(a) >= n {
			return a
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("expected %d answers, got %v", n, f.Answers())
	return nil
}

func golden(t *testing.T, s string) {
	t.Helper()
	teatest.RequireEqualOutput(t, []byte(s))
}

func stop(t *testing.T, tm *teatest.TestModel) tui.Model {
	t.Helper()
	if err := tm.Quit(); err != nil {
		t.Fatal(err)
	}
	return tm.FinalModel(t, teatest.WithFinalTimeout(5*time.Second)).(probe).Model
}

func key(s string) tea.KeyPressMsg {
	switch s {
	case "enter":
		return tea.KeyPressMsg{Code: tea.KeyEnter}
	case "esc":
		return tea.KeyPressMsg{Code: tea.KeyEscape}
	case "up":
		return tea.KeyPressMsg{Code: tea.KeyUp}
	case "down":
		return tea.KeyPressMsg{Code: tea.KeyDown}
	case "tab":
		return tea.KeyPressMsg{Code: tea.KeyTab}
	case "space":
		return tea.KeyPressMsg{Code: tea.KeySpace, Text: " "}
	case "ctrl+c":
		return tea.KeyPressMsg{Code: 'c', Mod: tea.ModCtrl}
	case "backspace":
		return tea.KeyPressMsg{Code: tea.KeyBackspace}
	case "pgup":
		return tea.KeyPressMsg{Code: tea.KeyPgUp}
	}
	r := []rune(s)[0]
	return tea.KeyPressMsg{Code: r, Text: s}
}

func deps() tui.Deps {
	return tui.Deps{Runbooks: sampleRunbooks(), Timings: timings, Now: clock, After: released, Target: "rehearsal twin", WindowEnd: t0.Add(45 * time.Minute)}
}

// released is a guard timer that has already fired: a question is ready as soon as its timer's
// message is handled (tests still wait for the "ready" cue before they answer).
func released(time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	ch <- t0
	return ch
}

// readyCue is what a question shows once its keys count.
const readyCue = "● ready"

func opts() []tui.Option { return []tui.Option{tui.WithAltScreen(false), tui.WithoutAnimation()} }

func teatestFinal() teatest.FinalOpt { return teatest.WithFinalTimeout(5 * time.Second) }

// goldenAs checks one of several frames of a test: testdata/<Test>/<name>.golden.
func goldenAs(t *testing.T, name, s string) {
	t.Helper()
	t.Run(name, func(t *testing.T) { golden(t, s) })
}
