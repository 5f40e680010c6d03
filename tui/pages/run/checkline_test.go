package run

import (
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
)

// A blocked check on the run page reads as the plain view prints it, through the one formatter:
// "check: blocked — why", then "next: the fix" — never a hand-made "fix:" line.
func TestBlockedCheckPrintsThroughTheFormatter(t *testing.T) {
	m, _ := page(false)
	m.Apply(started()[:2]...)
	m.Apply(events.Event{Type: events.StepChecked, Step: "a", Time: t0, Check: &events.CheckInfo{
		State:  "blocked",
		Reason: "snapshot app-db-pre-kms belongs to run r-0",
		Fix:    "move it aside: aws rds delete-db-snapshot --db-snapshot-identifier app-db-pre-kms",
	}})
	v := m.View(160, 30)
	for _, want := range []string{"check: blocked — snapshot app-db-pre-kms belongs to run r-0", "next: move it aside"} {
		if !strings.Contains(v, want) {
			t.Fatalf("the run page does not say %q:\n%s", want, v)
		}
	}
	if strings.Contains(v, "fix: ") {
		t.Fatalf("the run page prints the fix by hand:\n%s", v)
	}
}
