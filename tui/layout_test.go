package tui_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui"
)

// A snapshot-copy run: the logical strategy's steps are not on this path and fold into one line
// (o lists them); at 160 columns every title is whole; at 80×24 nothing wraps or spills.
func TestStepsNotOnThisPathFold(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			f := newFake("r-20261126-0214")
			info := sampleRunInfo(f.id)
			var steps []events.StepInfo
			steps = append(steps, info.Steps[:2]...)
			for i := range 11 {
				steps = append(steps, events.StepInfo{ID: fmt.Sprintf("logical-%d", i+1), Title: fmt.Sprintf("Logical step number %d of the other strategy", i+1),
					Kind: "pg.dump", OffPath: `${params.strategy} == "logical" is false`})
			}
			steps = append(steps, info.Steps[2:]...)
			info.Steps = steps
			f.emit(0, events.Event{Type: events.RunStarted, Run: info})
			f.emit(1, events.Event{Type: events.StepChecking, Step: "snapshot"})
			f.emit(2, events.Event{Type: events.StepApplying, Step: "snapshot"})
			f.emit(40, events.Event{Type: events.StepVerified, Step: "snapshot", Elapsed: 38 * time.Second})
			f.emit(41, events.Event{Type: events.StepChecking, Step: "copy"})
			tm := start(t, tui.NewRunView(deps(), f, opts()...), sz.w, sz.h)
			s := waitScreen(t, tm, "11 ", "not on this path")
			if strings.Contains(s, "Logical step number") {
				t.Fatalf("steps not on this path are listed one by one:\n%s", s)
			}
			lines := strings.Split(s, "\n")
			if len(lines) > sz.h {
				t.Fatalf("%d lines on a %d-line terminal", len(lines), sz.h)
			}
			for _, l := range lines {
				if w := len([]rune(l)); w > sz.w {
					t.Fatalf("a line of %d columns on a %d-column terminal: %q", w, sz.w, l)
				}
			}
			if sz.w >= 160 {
				for _, st := range info.Steps {
					if st.OffPath == "" && !strings.Contains(s, st.Title) {
						t.Errorf("title %q not whole at %d columns:\n%s", st.Title, sz.w, s)
					}
				}
			}
			goldenAs(t, "folded", s)
			tm.Type("o")
			s = waitScreen(t, tm, "○ Logi")
			if strings.Contains(s, "11 not on this path") || strings.Contains(s, "11 steps not on this path") {
				t.Fatalf("o did not unfold the list:\n%s", s)
			}
			stop(t, tm)
		})
	}
}
