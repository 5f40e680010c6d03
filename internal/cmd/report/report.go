// Package report is `cairn report <run-id>`: the record of a run for a change ticket, read from its
// journal only — Markdown (status, parameters, steps, the timeline beside its rehearsal, decisions,
// approvals and notes) or, with --format json, every record as written. It changes nothing.
package report

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/cmdutil"
	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/journal"
	"github.com/cairn-runbooks/cairn/internal/timeline"
	"github.com/spf13/cobra"
)

// ReportOptions are what `cairn report` was given.
type ReportOptions struct {
	IO       *cmdutil.IOStreams
	StateDir string

	RunID string
	// Format is md (or markdown) or json.
	Format string
}

// NewCmdReport builds `cairn report`; runF replaces reportRun in tests.
func NewCmdReport(f *cmdutil.Factory, runF func(context.Context, *ReportOptions) error) *cobra.Command {
	opts := &ReportOptions{IO: f.IO}
	cmd := &cobra.Command{
		Use:   "report <run-id>",
		Short: "The record of a run for a change ticket (Markdown or JSON), notes and decisions included",
		Args:  cmdutil.RunIDArgs(1, false),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Format != "md" && opts.Format != "markdown" && opts.Format != "json" {
				return cmdutil.FlagErrorf("--format %q: use md or json", opts.Format)
			}
			opts.StateDir, opts.RunID = f.StateDir(), args[0]
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return reportRun(cmd.Context(), opts)
		},
	}
	cmd.Flags().StringVar(&opts.Format, "format", "md", "md | json")
	return cmd
}

func reportRun(_ context.Context, opts *ReportOptions) error {
	run, err := journal.Open(opts.StateDir, opts.RunID)
	if err != nil {
		return err
	}
	if err := journal.Check(run, journal.ToRead); err != nil {
		return err
	}
	recs, err := journal.ReadAll(run)
	if err != nil {
		return err
	}
	if opts.Format == "json" {
		enc := json.NewEncoder(opts.IO.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Run     string         `json:"run"`
			Records []events.Event `json:"records"`
		}{run.ID, recs})
	}
	out, err := journal.ReadOutput(run) // a dead runner's last word is often a progress line
	if err != nil {
		return err
	}
	writeReport(opts.IO.Out, run, recs, out)
	return nil
}

// merge puts the journal and the output log in the order they were written (one sequence).
func merge(recs, out []events.Event) []events.Event {
	all := append(append([]events.Event{}, recs...), out...)
	sort.SliceStable(all, func(i, j int) bool { return all[i].Seq < all[j].Seq })
	return all
}

func writeReport(w io.Writer, run *journal.Run, recs, out []events.Event) {
	all := merge(recs, out)
	st := events.NewRunState()
	for _, e := range all {
		st.Apply(e)
	}
	meta, _ := run.Meta()
	status := string(st.Status)
	if !st.Status.Ended() {
		status = "unfinished"
	}
	fmt.Fprintf(w, "# cairn run %s — %s\n\n", run.ID, st.Info.Runbook)
	fmt.Fprintf(w, "- Runbook: %s (%s)\n- Status: **%s**\n- Started: %s by %s on %s\n- Target: %s\n", st.Info.Title, meta.Source, status, st.Started.UTC().Format(time.RFC3339), meta.StartedBy, meta.Host, st.Info.Target)
	if !st.Last.IsZero() && !st.Started.IsZero() {
		fmt.Fprintf(w, "- Duration: %s\n", st.Last.Sub(st.Started).Round(time.Second))
	}
	for _, s := range st.Steps {
		if d := s.Outputs["downtime"]; d != "" {
			fmt.Fprintf(w, "- Downtime: %s (step %s: %s)\n", d, s.Info.ID, s.Info.Title)
		}
	}
	for _, d := range st.Deaths {
		fmt.Fprintf(w, "- Runner died: %s\n", d.String())
	}
	if meta.Rehearsal {
		fmt.Fprintln(w, "- Rehearsal: yes")
	}
	fmt.Fprintln(w, "\n## Parameters")
	keys := make([]string, 0, len(st.Info.Params))
	for k := range st.Info.Params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "- `%s` = `%s`\n", k, st.Info.Params[k])
	}
	fmt.Fprintln(w, "\n## Steps\n\n| # | step | status | time | note |\n|---|---|---|---|---|")
	for i, s := range st.Steps {
		fmt.Fprintf(w, "| %d | %s — %s | %s | %s | %s |\n", i+1, s.Info.ID, s.Info.Title, reportStatus(st, s), stepTime(st, s), strings.ReplaceAll(stepNote(s), "|", "\\|"))
	}
	fmt.Fprintln(w)
	writeResults(w, st)
	fmt.Fprint(w, reportTimeline(run, st, all))
	fmt.Fprintln(w, "\n## Decisions, approvals and notes")
	for _, e := range recs {
		switch e.Type {
		case events.QuestionAnswered:
			fmt.Fprintf(w, "- %s %s: %s by %s\n", e.Time.UTC().Format(time.RFC3339), stepOr(e.Step), e.Answer.Text("typed "), e.Answer.By.String())
		case events.RunResumed, events.RunTakenOver:
			for _, d := range st.Deaths {
				if d.Resumed.Equal(e.Time) && d.By == e.Type {
					fmt.Fprintf(w, "- %s run: RUNNER DIED %s\n", d.LastHeard.UTC().Format(time.RFC3339), d.String())
				}
			}
			fmt.Fprintf(w, "- %s run: %s\n", e.Time.UTC().Format(time.RFC3339), resumedBy(e))
		case events.Note, events.RunPaused:
			fmt.Fprintf(w, "- %s %s: %s %s (%s)\n", e.Time.UTC().Format(time.RFC3339), stepOr(e.Step), e.Type, e.Note, e.Actor.String())
		case events.StepInterrupted:
			fmt.Fprintf(w, "- %s %s: INTERRUPTED in %s: %s\n", e.Time.UTC().Format(time.RFC3339), e.Step, e.Phase, e.Note)
		case events.RunFinished:
			line := fmt.Sprintf("- %s run: finished %s", e.Time.UTC().Format(time.RFC3339), e.Status)
			if e.Note != "" {
				line += " — " + e.Note
			}
			fmt.Fprintln(w, line)
		case events.StepFailed, events.StepRollbackFailed:
			lines := diag.Lines(*e.Error)
			fmt.Fprintf(w, "- %s %s: FAILED in %s: %s\n", e.Time.UTC().Format(time.RFC3339), e.Step, e.Phase, lines[0])
			for _, l := range lines[1:] {
				fmt.Fprintf(w, "  %s\n", l)
			}
		}
	}
}

// reportTimeline is the report's Timeline section: the run beside the rehearsal journal.Twin
// picks, as a Mermaid gantt block and as plain text. all is the journal and the output log merged: a
// runner that died was last heard from in either.
func reportTimeline(run *journal.Run, st *events.RunState, all []events.Event) string {
	tl := timeline.Build(all)
	twin, ok := journal.Twin(journal.StateDirOf(run), st.Info, st.Started)
	if !ok {
		return timeline.Markdown(tl, nil, "No earlier rehearsal of "+st.Info.Runbook+" succeeded, so this run stands alone.")
	}
	why := "Beside rehearsal " + twin.Run.ID + " (started " + twin.State.Started.UTC().Format(time.RFC3339) + "): the latest earlier rehearsal of " + st.Info.Runbook + " that succeeded"
	if twin.Meta.RunbookSHA256 == st.Info.RunbookSHA256 {
		why += ", with the same runbook text"
	}
	why += ". Its bars are drawn from this run's start, so both read on one clock."
	return timeline.Markdown(tl, timeline.Build(twin.Records), why)
}

func stepOr(s string) string {
	if s == "" {
		return "run"
	}
	return s
}

// reportStatus is a step's status as the report says it: a cut-back step that never ran is "not
// needed" once the run has ended (nobody chose to cut back), "if cut back" while it goes on —
// never "pending", which would say work is left.
func reportStatus(run *events.RunState, s *events.StepState) string {
	if s.Info.Cutback && s.Status == events.StatusPending {
		if run.Status.Ended() {
			return "not needed"
		}
		return "if cut back"
	}
	return string(s.Status)
}

// stepTime is a step's time as the report says it. For a step a runner was stopped in
// (interrupted), the time before the stop counts, and the report says how much of it that was.
// For a step a runner died in, the time the later
// runner counted is only part of it: the report says so, with the time before the death (up to the
// dead runner's last record) and the time from the step's first start to its end.
func stepTime(run *events.RunState, s *events.StepState) string {
	if s.Stopped > 0 && !run.DiedIn(s.Info.ID) {
		// a runner stopped in it (interrupted): its time there is the step's too
		text := fmt.Sprintf("%s, of which %s before the runner was stopped in it", (s.Elapsed + s.Stopped).Round(time.Millisecond), s.Stopped.Round(time.Millisecond))
		if d, ok := s.FromFirstStart(); ok {
			text += fmt.Sprintf("; %s from its first start to its end", d.Round(time.Millisecond))
		}
		return text
	}
	if !run.DiedIn(s.Info.ID) {
		return s.Elapsed.Round(time.Millisecond).String()
	}
	text := fmt.Sprintf("%s, of which %s before the runner died in it (at least: up to its last record)", (s.Elapsed + s.Lost).Round(time.Millisecond), s.Lost.Round(time.Millisecond))
	if s.Lost == 0 {
		text = fmt.Sprintf("%s after the resume — the runner died in it, with no record after the step's start", s.Elapsed.Round(time.Millisecond))
	}
	if d, ok := s.FromFirstStart(); ok {
		text += fmt.Sprintf("; %s from its first start to its end", d.Round(time.Millisecond))
	}
	return text
}

// resumedBy says who took a run up again and to do what (the record's note is the runner's mode).
func resumedBy(e events.Event) string {
	verb := "resumed"
	if e.Type == events.RunTakenOver {
		verb = "taken over"
	}
	text := verb + " by " + e.Actor.String()
	switch e.Note {
	case "", "run":
	case "rollback":
		text += " to roll back"
	default:
		text += " to " + e.Note
	}
	return text
}
