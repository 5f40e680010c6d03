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
