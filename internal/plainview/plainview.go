// Package plainview renders a run as plain timestamped lines (for pipes, logs, `--no-tui`, and
// `cairn follow` without a terminal), and, when it has a terminal for input, answers the runner's
// questions by asking on it. It reads only events; it decides nothing.
package plainview

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
)

// Answerer delivers an answer to the runner.
type Answerer func(ctx context.Context, a events.Answer) error

// View is a plain renderer.
type View struct {
	Out      io.Writer
	In       *bufio.Reader // nil: never answers
	Answer   Answerer
	Who      events.Actor
	RunID    string
	ReadOnly bool
	// ReplayUntil is the run's last journal sequence number when the view opened: the records up
	// to it are history, replayed as lines, their questions shown with the answers they got; only
	// the question still open once the replay has caught up is asked (0: ask as they come).
	ReplayUntil int64
	state       *events.RunState
	hint        string // how to answer the open question, printed only if no answer follows at once
}

func (v *View) flushHint() {
	if v.hint != "" {
		v.printf(v.state.Last, "%s", v.hint)
		v.hint = ""
	}
}

// Render consumes events until the channel closes; it returns the run's final status ("" if the
// stream ended before the run did).
func (v *View) Render(ctx context.Context, ch <-chan events.Event) events.RunStatus {
	v.state = events.NewRunState()
	asked := map[string]bool{}
	for {
		var e events.Event
		var ok bool
		select {
		case e, ok = <-ch:
		case <-time.After(700 * time.Millisecond):
			// nothing answered the open question at once (no flag did): say how to answer it
			v.flushHint()
			e, ok = <-ch
		}
		if !ok {
			break
		}
		if e.Type != events.QuestionAnswered {
			v.flushHint()
		}
		v.hint = ""
		v.state.Apply(e)
		v.line(e)
		if v.state.LastSeq < v.ReplayUntil || v.ReadOnly || v.In == nil {
			continue // history: an answered question is not asked again
		}
		if q := v.state.Open; q != nil && !asked[q.ID] {
			asked[q.ID] = true
			go v.askAndAnswer(ctx, *q)
		}
	}
	return v.state.Status
}

func ts(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func (v *View) printf(t time.Time, format string, args ...any) {
	fmt.Fprintf(v.Out, "%s  %s\n", ts(t), fmt.Sprintf(format, args...))
}

func (v *View) line(e events.Event) {
	tag := ""
	if e.Step != "" {
		tag = "[" + e.Step + "] "
	}
	switch e.Type {
	case events.RunStarted:
		r := e.Run
		v.printf(e.Time, "run %s started: %s — %s (by %s, target: %s)", r.ID, r.Runbook, r.Title, e.Actor.String(), orDash(r.Target))
		keys := make([]string, 0, len(r.Params))
		for k := range r.Params {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			v.printf(e.Time, "  param %s = %s", k, r.Params[k])
		}
	case events.RunResumed:
		v.printf(e.Time, "run resumed by %s", e.Actor.String())
		if n := len(v.state.Deaths); n > 0 && v.state.Deaths[n-1].Resumed.Equal(e.Time) {
			v.printf(e.Time, "  the runner before died %s", v.state.Deaths[n-1])
		}
	case events.RunFinished:
		if e.Note != "" {
			v.printf(e.Time, "run %s — %s", strings.ToUpper(string(e.Status)), e.Note)
		} else {
			v.printf(e.Time, "run %s", strings.ToUpper(string(e.Status)))
		}
		if e.Status == events.Interrupted && v.RunID != "" {
			v.printf(e.Time, "  next: `cairn resume %s` continues (the step in flight is checked first); `cairn report %s` for the record", v.RunID, v.RunID)
		} else if e.Status != events.Succeeded && v.RunID != "" {
			v.printf(e.Time, "  next: `cairn report %s` for the record; `cairn resume %s` or `cairn rollback %s`", v.RunID, v.RunID, v.RunID)
		}
	case events.RunnerGone:
		for _, l := range diag.Headed("run UNFINISHED — ", *e.Error) {
			v.printf(e.Time, "%s", l)
		}
	case events.RunPaused:
		v.printf(e.Time, "run paused by %s", e.Actor.String())
	case events.StepChecking:
		st := v.state.Step(e.Step)
		title := ""
		if st != nil {
			title = st.Info.Title
		}
		v.printf(e.Time, "%schecking: %s", tag, title)
	case events.StepChecked:
		c := e.Check
		head := tag + "check: " + c.State
		if c.Reason != "" {
			head += " — "
		}
		for _, l := range diag.Headed(head, c.Diagnostic("")) {
			v.printf(e.Time, "%s", l)
		}
	case events.StepSkipped:
		v.printf(e.Time, "%sskipped: %s", tag, e.Note)
	case events.StepApplying:
		v.printf(e.Time, "%sapplying", tag)
	case events.StepApplied:
		msg := tag + "applied in " + e.Elapsed.Round(time.Millisecond).String()
		if e.AlreadyDone {
			msg = tag + "found done: outputs read from the target, nothing applied"
		} else if st := v.state.Step(e.Step); st != nil && v.state.DiedIn(st.Info.ID) {
			msg += fmt.Sprintf(" (since the resume; first started %s, before the runner died in it", ts(st.FirstApplied))
			if st.Lost > 0 {
				msg += fmt.Sprintf(" at least %s into it", st.Lost.Round(100*time.Millisecond))
			}
			msg += ")"
		}
		if len(e.Outputs) > 0 {
			var kv []string
			for k, x := range e.Outputs {
				if k == "stdout" && len(x) > 60 {
					x = x[:60] + "…"
				}
				kv = append(kv, k+"="+x)
			}
			sort.Strings(kv)
			msg += " (" + strings.Join(kv, ", ") + ")"
		}
		v.printf(e.Time, "%s", msg)
	case events.StepVerified:
		msg := tag + "done"
		if e.Note != "" {
			msg += " (" + e.Note + ")"
		}
		v.printf(e.Time, "%s", msg)
	case events.StepFailed, events.StepRollbackFailed:
		for _, l := range diag.Headed(fmt.Sprintf("%sFAILED (%s): ", tag, e.Phase), *e.Error) {
			v.printf(e.Time, "%s", l)
		}
	case events.StepInterrupted:
		v.printf(e.Time, "%sINTERRUPTED (%s): %s", tag, e.Phase, e.Note)
	case events.StepRollingBack:
		v.printf(e.Time, "%srolling back", tag)
	case events.StepRolledBack:
		msg := tag + "rolled back"
		if e.Note != "" {
			msg += " (" + e.Note + ")"
		}
		v.printf(e.Time, "%s", msg)
	case events.QuestionAsked:
		q := e.Question
		v.printf(e.Time, "%s? %s", tag, q.Prompt)
		if q.Detail != "" {
			v.printf(e.Time, "  %s", q.Detail)
		}
		for _, it := range q.Items {
			v.printf(e.Time, "  ☐ %s", it)
		}
		for _, o := range q.Options {
			v.printf(e.Time, "  [%s] %s: %s", o.Key, o.Label, o.Effect)
		}
		if q.Kind == events.AskApproval {
			v.hint = fmt.Sprintf("  waiting for approval: another engineer runs `cairn approve %s`", v.RunID)
		} else if v.In == nil && !v.ReadOnly {
			v.hint = fmt.Sprintf("  waiting for an answer: `cairn attach %s` on a terminal", v.RunID)
		}
	case events.QuestionAnswered:
		msg := fmt.Sprintf("%sanswered %q by %s", tag, e.Answer.Text(""), e.Answer.By.String())
		if e.Note != "" {
			msg += " — " + e.Note
		}
		v.printf(e.Time, "%s", msg)
	case events.Note:
		who := ""
		if e.Actor != nil {
			who = " (" + e.Actor.String() + ")"
		}
		v.printf(e.Time, "%snote%s: %s", tag, who, e.Note)
	case events.OutputLine:
		text := e.Line.Text
		if st := v.state.Step(e.Step); st != nil {
			if r, ok := events.ResultOf(st.Status, e.Line); ok {
				text = r.String() // as the report and the TUI say it
			}
		}
		v.printf(e.Time, "%s| %s", tag, text)
	case events.Progressed:
		p := e.Progress
		if p.Total > 0 {
			v.printf(e.Time, "%sprogress %.0f%%", tag, 100*p.Done/p.Total)
		}
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// askAndAnswer asks on the terminal and writes the answer.
func (v *View) askAndAnswer(ctx context.Context, q events.Question) {
	who := v.Who
	who.Via = "plain terminal"
	a := events.Answer{QuestionID: q.ID, By: &who}
	read := func(prompt string) string {
		fmt.Fprint(v.Out, prompt)
		s, _ := v.In.ReadString('\n')
		return strings.TrimSpace(s)
	}
	switch q.Kind {
	case events.AskApproval:
		return
	case events.AskTyped:
		for {
			s := read(fmt.Sprintf("type %q to go on (empty to abort): ", q.Expect))
			if s == "" {
				a.Choice = events.Abort
				break
			}
			if s == q.Expect {
				a.Value = s
				break
			}
			fmt.Fprintln(v.Out, "that does not match; nothing was done.")
		}
	case events.AskDecision:
		var keys []string
		for _, o := range q.Options {
			keys = append(keys, string(o.Key))
		}
		for {
			s := read("choose " + strings.Join(keys, "/") + ": ")
			for _, k := range keys {
				if s == k {
					a.Choice = events.Decision(s)
				}
			}
			if a.Choice != "" {
				break
			}
		}
	case events.AskInput:
		a.Value = read("value: ")
	default:
		s := strings.ToLower(read("yes/no: "))
		a.Yes = s == "y" || s == "yes"
	}
	if err := v.Answer(ctx, a); err != nil {
		fmt.Fprintf(v.Out, "could not deliver the answer: %v\n", err)
	}
}
