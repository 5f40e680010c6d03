package planview

import (
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/tui/common"
)

// Steps whose when: is false are counted as not on this path — in the words `cairn plan` uses —
// and fold into one line until the engineer asks for them.
func TestStepsNotOnThisPathFold(t *testing.T) {
	p := Plan{Runbook: "rds-encrypt", Steps: []events.StepInfo{
		{ID: "snapshot", Title: "Snapshot the source", Destructive: false},
		{ID: "dump", Title: "Dump every database", OffPath: `${params.strategy} == "logical" is false`},
		{ID: "delete-source", Title: "Delete the source", Destructive: true, OffPath: `${params.strategy} == "logical" is false`},
		{ID: "rename", Title: "Swap names"},
	}}
	if got, want := p.Summary(), "2 steps, 0 destructive, 2 not on this path"; !strings.HasPrefix(got, want) {
		t.Fatalf("Summary = %q, want it to open with %q", got, want)
	}
	c := common.New(nil)
	v := ansi.Strip(View(c, p, 100))
	if strings.Contains(v, "Dump every database") || !strings.Contains(v, "⋯ 2 steps not on this path") {
		t.Fatalf("off-path steps not folded:\n%s", v)
	}
	if !strings.Contains(v, " 4. Swap names") {
		t.Fatalf("steps keep the numbers cairn plan gives them:\n%s", v)
	}
	p.ShowOffPath = true
	v = ansi.Strip(View(c, p, 100))
	if !strings.Contains(v, " 2. Dump every database  not on this path") || strings.Contains(v, "⋯") {
		t.Fatalf("o does not list the off-path steps:\n%s", v)
	}
	if md := Markdown(p, c.Now()); !strings.Contains(md, "### 3. Delete the source — not on this path") {
		t.Fatalf("Markdown:\n%s", md)
	}
}

// A runbook with a window: the screen heads each phase as `cairn plan` does, a cut-back step under
// none of them.
func TestPhaseHeadings(t *testing.T) {
	p := Plan{Runbook: "rds-encrypt", Steps: []events.StepInfo{
		{ID: "sync-wait", Title: "Wait until the copy has caught up", Phase: "before"},
		{ID: "quiesce", Title: "Quiesce the source", Confirm: "typed", Phase: "window"},
		{ID: "rename", Title: "Swap names", Phase: "window"},
		{ID: "delete-old", Title: "Delete the old instance", Phase: "after"},
		{ID: "cut-back", Title: "Give the source its name back", Cutback: true},
	}}
	v := ansi.Strip(View(common.New(nil), p, 100))
	order := []string{"── Before the window", "1. Wait", "── The window — the application is stopped from here ──", "2. Quiesce the source  typed confirmation", "3. Swap", "── After the window", "4. Delete", "5. Give the source"}
	at := 0
	for _, w := range order {
		i := strings.Index(v[at:], w)
		if i < 0 {
			t.Fatalf("%q missing, or out of order:\n%s", w, v)
		}
		at += i + len(w)
	}
	if strings.Count(v, "── ") != 3 {
		t.Fatalf("want three headings:\n%s", v)
	}
}
