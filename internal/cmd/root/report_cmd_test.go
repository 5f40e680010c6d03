package root_test

import (
	"github.com/cairn-runbooks/cairn/internal/cmd/report"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/events"
)

func TestNewCmdReport(t *testing.T) {
	cmdtest.Table(t, report.NewCmdReport, func(o *report.ReportOptions) { o.IO = nil }, []cmdtest.Case[report.ReportOptions]{
		{Name: "markdown", Argv: []string{"a1b2c3"}, Want: report.ReportOptions{StateDir: "/state", RunID: "a1b2c3", Format: "md"}},
		{Name: "json", Argv: []string{"a1b2c3", "--format", "json"}, Want: report.ReportOptions{StateDir: "/state", RunID: "a1b2c3", Format: "json"}},
		{Name: "html", Argv: []string{"a1b2c3", "--format", "html"}, Usage: `--format "html": use md or json`},
		{Name: "no run id", Usage: "which run? give its id: cairn report <run-id> (`cairn runs` lists them)"},
	})
}

// The Markdown report of a run that stopped after its first step: its status, each step's, and the
// decision that ended it, exactly (the timeline between them has its own test); stderr stays empty.
func TestReportRunMarkdown(t *testing.T) {
	state := t.TempDir()
	run := cmdtest.WriteRun(t, state, events.Event{Type: events.StepVerified, Step: "a"},
		events.Event{Type: events.RunFinished, Status: events.Aborted, Note: "aborted by a person"})
	out, errOut, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, report.NewCmdReport, run.ID)
	head, rest, _ := strings.Cut(out, "## Timeline\n")
	_, tail, _ := strings.Cut(rest, "## Decisions, approvals and notes\n")
	wantHead := "# cairn run " + run.ID + " — rb\n\n- Runbook:  ()\n- Status: **aborted**\n- Started: 2026-12-04T13:37:18Z by  on \n- Target: \n- Duration: 0s\n\n" +
		"## Parameters\n\n## Steps\n\n| # | step | status | time | note |\n|---|---|---|---|---|\n| 1 | a — step a | done | 0s |  |\n| 2 | b — step b | pending | 0s |  |\n\n"
	wantTail := "- 2026-12-04T13:37:18Z run: finished aborted — aborted by a person\n"
	if err != nil || head != wantHead || tail != wantTail || errOut != "" {
		t.Fatalf("report: %v\nhead %q\nwant %q\ntail %q\nwant %q\nstderr %q", err, head, wantHead, tail, wantTail, errOut)
	}
}

// A step's results — the lines it said after its check, a warning marked, what its verify said —
// are in the report under the steps table, whose note column says how many; what the check said is
// marked as the check's and shown only for a step that found nothing to say; "still waiting"
// lines and a verify repeating the apply's line are left out.
func TestReportShowsWhatEachStepFound(t *testing.T) {
	state := t.TempDir()
	info := func(step, text string) events.Event {
		return events.Event{Type: events.OutputLine, Step: step, Line: &events.Line{Stream: "info", Text: text}}
	}
	run := cmdtest.WriteRun(t, state,
		events.Event{Type: events.StepChecking, Step: "a"},
		info("a", "source: class db.t3.medium"), // said by the check: not a result
		events.Event{Type: events.StepChecked, Step: "a", Check: &events.CheckInfo{State: "ready", Reason: "wait for the target to apply, compare rows and schemas, then drop"}},
		events.Event{Type: events.StepApplying, Step: "a"},
		info("a", "still waiting for 2 subscriptions to apply up to 0/4010018 [3s elapsed]"),
		info("a", "rows: 5 tables, row counts equal on both sides"),
		info("a", "warning: DDL is not replicated"),
		info("a", "rows: 1 of 5 tables in flux:\napp.shop.orders: 12 rows on the target, 13 in the source"),
		events.Event{Type: events.OutputLine, Step: "a", Line: &events.Line{Stream: "stderr", Text: "pg_dump: reading"}},
		events.Event{Type: events.StepApplied, Step: "a"},
		events.Event{Type: events.StepVerifying, Step: "a"},
		info("a", "rows: 5 tables, row counts equal on both sides"),
		info("a", "schemas of 2 databases: the same"),
		events.Event{Type: events.StepVerified, Step: "a"},
		events.Event{Type: events.StepChecking, Step: "b"},
		events.Event{Type: events.StepChecked, Step: "b", Check: &events.CheckInfo{State: "ready", Reason: "rename app-db"}},
		events.Event{Type: events.RunFinished, Status: events.Aborted},
	)
	out, _, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, report.NewCmdReport, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"| 1 | a — step a | done | 0s | 4 results, 1 warning — below |\n",
		"| 2 | b — step b | checking | 0s | check: rename app-db |\n",
		"## What the steps found\n\n- **1 a** — step a\n" +
			"  - rows: 5 tables, row counts equal on both sides\n" +
			"  - ⚠ warning: DDL is not replicated\n" +
			"  - rows: 1 of 5 tables in flux:\n    app.shop.orders: 12 rows on the target, 13 in the source\n" +
			"  - verify: schemas of 2 databases: the same\n\n## Timeline",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks\n%s\n---- report:\n%s", want, out)
		}
	}
	for _, not := range []string{"still waiting", "db.t3.medium", "pg_dump: reading", "wait for the target to apply"} {
		if strings.Contains(out, not) {
			t.Errorf("the report shows %q, which is no step's result:\n%s", not, out)
		}
	}
}

// A resume is said in words — who took the run up, to roll back or not — not as a record type.
func TestReportSaysWhoResumed(t *testing.T) {
	state := t.TempDir()
	who := &events.Actor{User: "ana", Host: "bastion", Via: "runner"}
	run := cmdtest.WriteRun(t, state, events.Event{Type: events.StepVerified, Step: "a"},
		events.Event{Type: events.RunFinished, Status: events.Interrupted},
		events.Event{Type: events.RunResumed, Actor: who, Note: "run"},
		events.Event{Type: events.RunFinished, Status: events.Failed},
		events.Event{Type: events.RunResumed, Actor: who, Note: "rollback"})
	out, _, err := cmdtest.Output(map[string]string{"CAIRN_STATE_DIR": state}, report.NewCmdReport, run.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Z run: resumed by ana@bastion (runner)\n", "Z run: resumed by ana@bastion (runner) to roll back\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "run.resumed") {
		t.Errorf("the report names a record type:\n%s", out)
	}
}
