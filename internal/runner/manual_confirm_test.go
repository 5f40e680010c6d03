package runner_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/runner"
	"github.com/cairn-runbooks/cairn/runbooks"
)

// A manual step asked to confirm shows its checklist in that one prompt: one question, the
// checklist with the step's items, for the apply; its own checklist is not asked again.
func TestManualStepChecklistIsItsConfirmation(t *testing.T) {
	rb, err := runbooks.Load("t.yaml", []byte(`schema: 1
name: manual
title: A manual step with a confirmation
steps:
  - {id: announce, kind: manual, title: Announce the window, confirm: "yes", with: {items: ["status page says maintenance", "on-call knows"]}}
`), registry())
	if err != nil {
		t.Fatal(err)
	}
	meta := journal.Meta{ID: journal.NewID(time.Now()), Runbook: rb.Name, Policy: journal.Policy{Yes: true}, StartedBy: "tester"}
	run, err := journal.Create(t.TempDir(), meta, rb.Text)
	if err != nil {
		t.Fatal(err)
	}
	cfg := runner.Config{Run: run, Meta: meta, Runbook: rb, Values: runbooks.Values{}, Actor: events.Actor{User: "tester"},
		Getenv: os.Getenv, Environ: os.Environ(), Poll: 10 * time.Millisecond}
	if s, err := runner.Run(context.Background(), cfg); s != events.Succeeded {
		t.Fatalf("status %s %v", s, err)
	}
	recs, _ := journal.ReadAll(run)
	var asked []events.Question
	for _, e := range recs {
		if e.Type == events.QuestionAsked {
			asked = append(asked, *e.Question)
		}
	}
	if len(asked) != 1 {
		t.Fatalf("%d questions for one manual step, want 1: %+v", len(asked), asked)
	}
	q := asked[0]
	if q.Kind != events.AskChecklist || q.Purpose != events.PurposeApply || len(q.Items) != 2 || q.Items[1] != "on-call knows" {
		t.Fatalf("question = %+v, want the checklist as the apply confirmation", q)
	}
}
