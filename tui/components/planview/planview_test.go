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
