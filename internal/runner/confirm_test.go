package runner_test

import (
	"context"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/internal/runner"
)

// A typed confirmation given wrong (--confirm b=appdb for app-db) stops the run before the step,
// and says so: what was typed, the form the step asks for (the parameter it names, with its
// value), the state, and the command that confirms it — not only "answered abort".
func TestWrongTypedConfirmationSaysWhatWasExpected(t *testing.T) {
	dir := t.TempDir()
	run, cfg := tallyRunWith(t, dir, "", `confirm: typed, confirm_value: "${params.instance}", with: {file: "DIR/b"}`,
		"parameters:\n  - {name: instance, type: string}\n", journal.Policy{Yes: true, Confirm: map[string]string{"b": "appdb"}})
	cfg.Values = map[string]ref.Value{"instance": {S: "app-db"}}
	if s, err := runner.Run(context.Background(), cfg); err != nil || s != events.Aborted {
		t.Fatalf("ended %s (%v), want aborted before b", s, err)
	}
	if got := counts(dir); got != [3]int{1, 0, 0} {
		t.Fatalf("lines in a, b, c: %v, want b not applied", got)
	}
	recs, _ := journal.ReadAll(run)
	var d *events.Diag
	for _, e := range recs {
		if e.Type == events.StepFailed && e.Step == "b" {
			d = e.Error
		}
	}
	if d == nil {
		t.Fatal("no word of the wrong confirmation in the journal")
	}
	for _, want := range []string{`"appdb" was given`, "the value of instance, app-db"} {
		if !strings.Contains(d.Summary, want) {
			t.Errorf("summary %q lacks %q", d.Summary, want)
		}
	}
	if d.State != "applied so far: a" || d.Next != "`cairn resume "+run.ID+" --confirm b=app-db`, or type it when asked" {
		t.Errorf("state %q, next %q", d.State, d.Next)
	}
}
