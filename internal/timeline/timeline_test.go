package timeline_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/testbed"
	"github.com/cairn-runbooks/cairn/internal/timeline"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden")

var night = time.Date(2026, 11, 26, 2, 14, 0, 0, time.UTC)

// script is a run of five steps: a check, a wait step polling, a confirmation answered after a
// minute, a typed confirmation before the destructive swap. scale stretches every step (the
// rehearsal ran at other speeds); upTo cuts the run off at that many seconds (a live run).
func script(id string, start time.Time, rehearsal bool, scale float64, upTo int) []events.Event {
	var evs []events.Event
	at := 0
	add := func(after int, e events.Event) {
		at += int(float64(after) * scale)
		if upTo > 0 && at > upTo {
			return
		}
		e.Time = start.Add(time.Duration(at) * time.Second)
		evs = append(evs, e)
	}
	add(0, events.Event{Type: events.RunStarted, Run: &events.RunInfo{ID: id, Runbook: "rds-encrypt", Title: "Encrypt an RDS instance", Rehearsal: rehearsal,
		WindowEnd: start.Add(45 * time.Minute), Steps: []events.StepInfo{
			{ID: "snapshot", Title: "Snapshot the instance"},
			{ID: "copy", Title: "Copy: the snapshot; with key #1"},
			{ID: "wait-copy", Title: "Wait for the copy", Kind: "wait"},
			{ID: "logical", Title: "Dump and restore", OffPath: "strategy is snapshot"},
			{ID: "stop-app", Title: "Stop the application"},
			{ID: "swap", Title: "Restore and swap the instance", Destructive: true},
		}}})
	step := func(id string, took int) {
		add(1, events.Event{Type: events.StepChecking, Step: id})
		add(1, events.Event{Type: events.StepApplying, Step: id})
		add(took, events.Event{Type: events.StepVerifying, Step: id})
		add(2, events.Event{Type: events.StepVerified, Step: id})
	}
	step("snapshot", 40)
	step("copy", 600)
	step("wait-copy", 300)
	add(1, events.Event{Type: events.StepChecking, Step: "stop-app"})
	add(1, events.Event{Type: events.QuestionAsked, Step: "stop-app", Question: &events.Question{ID: "q1", Kind: events.AskConfirm}})
	add(60, events.Event{Type: events.QuestionAnswered, Answer: &events.Answer{QuestionID: "q1", Yes: true}})
	add(0, events.Event{Type: events.StepApplying, Step: "stop-app"})
	add(10, events.Event{Type: events.StepVerified, Step: "stop-app"})
	step("swap", 1200)
	add(1, events.Event{Type: events.RunFinished, Status: events.Succeeded})
	return evs
}

func tonightAndRehearsal(upTo int) (*timeline.Timeline, *timeline.Timeline) {
	return timeline.Build(script("r-20261126-0214", night, false, 1, upTo)),
		timeline.Build(script("r-20261120-2200", night.Add(-6*24*time.Hour), true, 1.2, 0))
}

func TestFold(t *testing.T) {
	tl, _ := tonightAndRehearsal(0)
	if tl.Bar("logical") != nil {
		t.Fatal("a step not on this path has a bar")
	}
	w := tl.Bar("wait-copy")
	if len(w.Spans) != 3 || w.Spans[1].Mark != timeline.Wait || w.Spans[1].To-w.Spans[1].From != 300*time.Second {
		t.Fatalf("wait step spans = %+v, want check, 300s polling, verify", w.Spans)
	}
	s := tl.Bar("stop-app")
	if len(s.Spans) != 3 || s.Spans[1].Mark != timeline.Prompt || s.Spans[1].To-s.Spans[1].From != time.Minute || s.Took() != 11*time.Second {
		t.Fatalf("stop-app spans = %+v took %v, want work, a 60s prompt, work (11s without the prompt)", s.Spans, s.Took())
	}
	if tl.Live() || tl.Status != events.Succeeded {
		t.Fatalf("status %q", tl.Status)
	}

	live, _ := tonightAndRehearsal(700) // polling for the copy
	c := live.Bar("wait-copy")
	if !live.Live() || !c.Spans[len(c.Spans)-1].Open || c.To() != 650*time.Second {
		t.Fatalf("live wait-copy = %+v, want polling since 650s, open", c.Spans)
	}
	if c := live.At(night.Add(800 * time.Second)).Bar("wait-copy"); c.To() != 800*time.Second {
		t.Fatalf("an open span drawn at 800s ends at %v", c.To())
	}
	live.Apply(events.Event{Type: events.StepVerifying, Step: "wait-copy", Time: night.Add(760 * time.Second)})
	if c.Spans[1].Open || c.Spans[1].To != 760*time.Second {
		t.Fatalf("drawing the live timeline moved its record times: %+v", c.Spans)
	}
}

// The report's Timeline section: a gantt block mermaid's own parser accepts (step titles with
// gantt's reserved characters included), the plain chart beside it; a broken block is rejected
// by the same check.
func TestMarkdownGanttParses(t *testing.T) {
	tl, before := tonightAndRehearsal(0)
	md := timeline.Markdown(tl, before, "Beside rehearsal r-20261120-2200.")
	golden(t, "report.md", md)
	live, _ := tonightAndRehearsal(700)
	liveMD := timeline.Markdown(live, nil, "")
	if !strings.Contains(liveMD, "Wait for the copy (waiting on a condition) :active, s3,") {
		t.Fatalf("a live run's gantt block does not mark the wait in flight active:\n%s", liveMD)
	}
	// one node for both blocks: a finished run beside its rehearsal, a live run alone
	if err := testbed.MermaidParse(t, md+liveMD); err != nil {
		t.Fatalf("mermaid rejects a gantt block: %v\n%s%s", err, md, liveMD)
	}
	for _, want := range []string{"section tonight", "section rehearsal r-20261120-2200", ":milestone, crit, w,", "Stop the application · waiting for you :active", "Copy - the snapshot, with key no. 1"} {
		if !strings.Contains(md, want) {
			t.Errorf("the gantt block lacks %q", want)
		}
	}

	// a task line that lost its data (what a title with an unescaped colon used to do)
	broken := strings.Replace(md, " :done, s2,", " done s2", 1)
	if err := testbed.MermaidParse(t, broken); err == nil {
		t.Fatalf("the check accepts a broken gantt block:\n%s", broken)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(want) != got {
		t.Fatalf("%s differs from %s (go test -update rewrites it):\n%s", name, p, got)
	}
}

// Twenty-five steps in twelve lines: the chart keeps the step in flight in view, says which steps
// it shows, and every line is exactly as wide as asked.
func TestChartFitsAroundTheCurrentStep(t *testing.T) {
	var steps []events.StepInfo
	for i := range 25 {
		steps = append(steps, events.StepInfo{ID: fmt.Sprintf("s%02d", i+1), Title: fmt.Sprintf("Step number %d", i+1)})
	}
	evs := []events.Event{{Type: events.RunStarted, Time: night, Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: steps}}}
	for i := range 18 {
		evs = append(evs,
			events.Event{Type: events.StepChecking, Step: steps[i].ID, Time: night.Add(time.Duration(i) * time.Minute)},
			events.Event{Type: events.StepVerified, Step: steps[i].ID, Time: night.Add(time.Duration(i)*time.Minute + 50*time.Second)})
	}
	evs = append(evs, events.Event{Type: events.StepChecking, Step: "s19", Time: night.Add(18 * time.Minute)})
	lines := timeline.Chart(timeline.Build(evs).At(night.Add(19*time.Minute)), nil, 80, 12, "", timeline.Style{})
	all := strings.Join(lines, "\n")
	if len(lines) > 12 || !strings.Contains(all, "Step number 19") || !strings.Contains(all, "of 25") {
		t.Fatalf("%d lines, want ≤ 12 with step 19 and which steps are shown:\n%s", len(lines), all)
	}
	for _, l := range lines {
		if n := len([]rune(l)); n != 80 {
			t.Fatalf("a line of %d columns, want 80: %q", n, l)
		}
	}
}

// The runner killed 3 s into a wait (its last word a progress line) and resumed 24 s later: the
// wait's bar shows the dead time as dead — its own glyph and legend entry in the chart, a crit
// task of its own in the gantt block mermaid accepts — never as work or polling; the step took
// the time before the death and after the resume, not the whole stretch.
func TestDeadRunnerTimeIsNotWork(t *testing.T) {
	at := func(s float64) time.Time { return night.Add(time.Duration(s * float64(time.Second))) }
	evs := []events.Event{
		{Type: events.RunStarted, Time: at(0), Run: &events.RunInfo{ID: "r-1", Runbook: "rds-encrypt", Steps: []events.StepInfo{
			{ID: "replicate", Title: "Subscribe"}, {ID: "sync-wait", Title: "Wait for the copy", Kind: "wait"}, {ID: "compare", Title: "Compare"}}}},
		{Type: events.StepChecking, Step: "replicate", Time: at(0)},
		{Type: events.StepVerified, Step: "replicate", Time: at(5)},
		{Type: events.StepChecking, Step: "sync-wait", Time: at(5)},
		{Type: events.StepApplying, Step: "sync-wait", Time: at(6)},
		{Type: events.OutputLine, Step: "sync-wait", Time: at(9), Line: &events.Line{Stream: "info", Text: "still waiting"}},
		{Type: events.RunResumed, Time: at(33)}, // SIGKILLed just after its line at 9 s
		{Type: events.StepChecking, Step: "sync-wait", Time: at(33)},
		{Type: events.StepApplying, Step: "sync-wait", Time: at(34)},
		{Type: events.StepVerifying, Step: "sync-wait", Time: at(36)},
		{Type: events.StepVerified, Step: "sync-wait", Time: at(37)},
		{Type: events.StepChecking, Step: "compare", Time: at(37)},
		{Type: events.StepVerified, Step: "compare", Time: at(40)},
		{Type: events.RunFinished, Status: events.Succeeded, Time: at(40)},
	}
	tl := timeline.Build(evs)
	b := tl.Bar("sync-wait")
	var dead []timeline.Span
	for _, s := range b.Spans {
		if s.Mark == timeline.Dead {
			dead = append(dead, s)
		} else if s.From < 33*time.Second && s.To > 9*time.Second {
			t.Errorf("a %v span %v–%v covers the time the runner was dead", s.Mark, s.From, s.To)
		}
	}
	if len(dead) != 1 || dead[0].From != 9*time.Second || dead[0].To != 33*time.Second || b.Took() != 8*time.Second {
		t.Fatalf("sync-wait spans %+v took %v, want dead 9s–33s and 8s taken (4 before, 4 after)", b.Spans, b.Took())
	}

	lines := timeline.Chart(tl, nil, 100, 0, "", timeline.Style{})
	chart := strings.Join(lines, "\n")
	row := lines[2]
	if !strings.HasPrefix(row, "Wait for the copy") || !strings.Contains(row, "×××") || !strings.Contains(row, " 8s") {
		t.Errorf("the wait's row does not draw the dead time as dead:\n%s", chart)
	}
	if !strings.Contains(lines[len(lines)-1], "× runner dead") {
		t.Errorf("the legend lacks the runner-dead entry:\n%s", chart)
	}
	if n := strings.Count(row, "▒") + strings.Count(row, "█"); n > 20 {
		t.Errorf("%d cells of work or polling on a bar whose step ran 8s of 40:\n%s", n, chart)
	}

	md := timeline.Markdown(tl, nil, "")
	for _, want := range []string{
		"Wait for the copy (waiting on a condition) :done, s2, 1795659245, 1795659249\n",
		"Wait for the copy · runner dead, nothing ran until the resume :crit, s3, 1795659249, 1795659273\n",
		"Wait for the copy · after the resume :done, s4, 1795659273, 1795659277\n",
		"Compare :done, s5,",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("the gantt block lacks %q:\n%s", want, md)
		}
	}
	if err := testbed.MermaidParse(t, md); err != nil {
		t.Fatalf("mermaid rejects the gantt block: %v\n%s", err, md)
	}
}

// A step the runner was stopped in (SIGTERM: step.interrupted, run.finished interrupted) is drawn
// as interrupted — crit, labelled so — never as done: alone when the run was not resumed, and as
// its own stretch before the resume's when it was, with nothing drawn across the time between the
// runners. A step rolled back is not done either, and says so. Mermaid accepts both blocks.
func TestInterruptedAndRolledBackStepsAreNotDrawnDone(t *testing.T) {
	at := func(s int) time.Time { return night.Add(time.Duration(s) * time.Second) }
	evs := []events.Event{
		{Type: events.RunStarted, Time: at(0), Run: &events.RunInfo{ID: "r-1", Runbook: "rb", Steps: []events.StepInfo{
			{ID: "a", Title: "Snapshot"}, {ID: "b", Title: "Copy"}, {ID: "c", Title: "Swap"}}}},
		{Type: events.StepChecking, Step: "a", Time: at(0)},
		{Type: events.StepVerified, Step: "a", Time: at(5)},
		{Type: events.StepChecking, Step: "b", Time: at(5)},
		{Type: events.StepApplying, Step: "b", Time: at(6)},
		{Type: events.StepInterrupted, Step: "b", Time: at(10)},
		{Type: events.RunFinished, Status: events.Interrupted, Time: at(10)},
	}
	stopped := timeline.Markdown(timeline.Build(evs), nil, "")
	evs = append(evs,
		events.Event{Type: events.RunResumed, Time: at(40)},
		events.Event{Type: events.StepChecking, Step: "b", Time: at(40)},
		events.Event{Type: events.StepApplying, Step: "b", Time: at(41)},
		events.Event{Type: events.StepVerified, Step: "b", Time: at(45)},
		events.Event{Type: events.StepChecking, Step: "c", Time: at(45)},
		events.Event{Type: events.StepApplying, Step: "c", Time: at(46)},
		events.Event{Type: events.StepFailed, Step: "c", Time: at(50)},
		events.Event{Type: events.StepRollingBack, Step: "c", Time: at(51)},
		events.Event{Type: events.StepRolledBack, Step: "c", Time: at(53)},
		events.Event{Type: events.RunFinished, Status: events.RolledBack, Time: at(53)},
	)
	resumed := timeline.Markdown(timeline.Build(evs), nil, "")
	t0 := night.Unix()
	for _, c := range []struct {
		md   string
		want []string
	}{
		{stopped, []string{fmt.Sprintf("Copy (interrupted) :crit, s2, %d, %d\n", t0+5, t0+10)}},
		{resumed, []string{
			fmt.Sprintf("Copy (interrupted) :crit, s2, %d, %d\n", t0+5, t0+10),
			fmt.Sprintf("Copy · after the resume :done, s3, %d, %d\n", t0+40, t0+45),
			fmt.Sprintf("Swap (rolled back) :s4, %d, %d\n", t0+45, t0+53),
		}},
	} {
		for _, want := range c.want {
			if !strings.Contains(c.md, want) {
				t.Errorf("the gantt block lacks %q:\n%s", want, c.md)
			}
		}
		for _, wrong := range []string{"Copy :done", "Swap :done", "Swap (rolled back) :done"} {
			if strings.Contains(c.md, wrong) {
				t.Errorf("the gantt block draws a step done that is not (%q):\n%s", wrong, c.md)
			}
		}
	}
	if err := testbed.MermaidParse(t, stopped+resumed); err != nil {
		t.Fatalf("mermaid rejects the gantt blocks: %v\n%s%s", err, stopped, resumed)
	}
}
