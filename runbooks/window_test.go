package runbooks_test

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps/all"
)

// windowed is a runbook of four steps and a cut-back; window is its window: mapping (or "").
func windowed(window string) string {
	return "schema: 1\nname: t\ntitle: T\n" + window + "steps:\n" +
		"  - {id: prepare, kind: exec, title: P, with: {argv: [\"true\"]}}\n" +
		"  - {id: stop, kind: exec, title: S, confirm: typed, confirm_value: app, with: {argv: [\"true\"]}}\n" +
		"  - {id: swap, kind: exec, title: W, with: {argv: [\"true\"]}}\n" +
		"  - {id: clean, kind: exec, title: C, with: {argv: [\"true\"]}}\n" +
		"cutback:\n  - {id: back, kind: exec, title: B, with: {argv: [\"true\"]}}\n"
}

func TestWindowPhases(t *testing.T) {
	rb, err := runbooks.Load("w.yaml", []byte(windowed("window: {from: stop, to: swap}\n")), all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]runbooks.Phase{"prepare": runbooks.PhaseBefore, "stop": runbooks.PhaseWindow, "swap": runbooks.PhaseWindow, "clean": runbooks.PhaseAfter, "back": runbooks.PhaseNone}
	for id, ph := range want {
		if got := rb.PhaseOf(id); got != ph {
			t.Errorf("PhaseOf(%s) = %q, want %q", id, got, ph)
		}
	}
	plain, err := runbooks.Load("w.yaml", []byte(windowed("")), all.Registry())
	if err != nil {
		t.Fatal(err)
	}
	if got := plain.PhaseOf("stop"); got != runbooks.PhaseNone {
		t.Errorf("without window: PhaseOf(stop) = %q", got)
	}
}

func TestWindowRefused(t *testing.T) {
	tests := []struct {
		name, window string
		want         []string
	}{
		{"unknown step", "window:\n  from: stop\n  to: swapp\n", []string{"w.yaml:6:7", `window to: no step "swapp"`, "name a step under `steps:`"}},
		{"cut-back step", "window:\n  from: back\n  to: swap\n", []string{"w.yaml:5:9", `window from: no step "back"`, "a cut-back step is not part of the window"}},
		{"ends before it starts", "window:\n  from: swap\n  to: stop\n", []string{"w.yaml:6:7", `window to: step "stop" comes before window from: step "swap"`}},
		{"no start", "window:\n  to: swap\n", []string{"w.yaml:", "window has no from", "give `from: <step id>`"}},
		{"ready step unknown", "window:\n  from: stop\n  to: swap\n  ready: [prep]\n", []string{"w.yaml:7:11", `window ready: no step "prep"`}},
		{"ready step inside the window", "window:\n  from: stop\n  to: swap\n  ready: [prepare, swap]\n", []string{`window ready: step "swap" is not before the window's start "stop"`}},
		{"unknown field", "window:\n  from: stop\n  until: swap\n", []string{"w.yaml:6:3", "until"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runbooks.Load("w.yaml", []byte(windowed(tt.window)), all.Registry())
			if err == nil {
				t.Fatal("loaded a runbook with a bad window")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message lacks %q:\n%s", w, err)
				}
			}
		})
	}
}
