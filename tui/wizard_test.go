package tui_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/tui"
)

// wizardDeps resolves like the CLI would (defaults, derived values) and plans the sample steps.
func wizardDeps(f *fakeSource, got *runbooks.Values) tui.Deps {
	d := deps()
	d.Runs = func() ([]tui.RunSummary, error) {
		return []tui.RunSummary{{ID: "r-20261125-2301", Runbook: "pg-upgrade", Status: "paused", Current: "analyze", Started: t0.Add(-3 * 3600e9)}}, nil
	}
	d.Prefill = map[string]string{"instance": "app-db"}
	d.Resolve = func(rb *runbooks.Runbook, given map[string]string) (runbooks.Values, error) {
		vals := runbooks.Values{}
		for _, p := range rb.Parameters {
			v, ok := given[p.Name]
			if !ok && !p.Default.IsZero() {
				v, _ = p.Default.Text(vals.Lookup)
			}
			if err := runbooks.CheckValue(p, v); v != "" && err != nil {
				return nil, err
			}
			vals[p.Name] = ref.Value{S: v} // forgets Secret on purpose: the TUI masks by the schema anyway
		}
		return vals, nil
	}
	d.Plan = func(rb *runbooks.Runbook, vals runbooks.Values) ([]events.StepInfo, error) {
		return sampleRunInfo("").Steps, nil
	}
	d.Start = func(ctx context.Context, rb *runbooks.Runbook, vals runbooks.Values, o tui.StartOptions) (tui.RunSource, error) {
		*got = vals
		scriptRunning(f, 5)
		return f, nil
	}
	d.Attach = func(ctx context.Context, id string) (tui.RunSource, error) {
		return nil, errors.New("no such run " + id)
	}
	return d
}

func TestHome(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			var vals runbooks.Values
			tm := start(t, tui.New(wizardDeps(newFake("r-1"), &vals), opts()...), sz.w, sz.h)
			golden(t, waitScreen(t, tm, "Unfinished runs", "pg-upgrade — Upgrade"))
			stop(t, tm)
		})
	}
}

func TestHomeFilter(t *testing.T) {
	var vals runbooks.Values
	tm := start(t, tui.New(wizardDeps(newFake("r-1"), &vals), opts()...), 80, 24)
	waitScreen(t, tm, "pg-upgrade — Upgrade")
	tm.Type("/upgr")
	s := waitScreen(t, tm, "filter › upgr")
	if strings.Contains(s, "rds-encrypt —") {
		t.Fatalf("filter kept rds-encrypt:\n%s", s)
	}
	tm.Send(key("esc"))
	waitScreen(t, tm, "rds-encrypt —")
	stop(t, tm)
}

// TestWizard goes Home → Parameters → Plan → save Markdown → Run.
func TestWizard(t *testing.T) {
	for _, sz := range sizes {
		t.Run(sz.name, func(t *testing.T) {
			dir := t.TempDir()
			f := newFake("r-20261126-0214")
			var vals runbooks.Values
			tm := start(t, tui.New(wizardDeps(f, &vals), opts()...), sz.w, sz.h)
			waitScreen(t, tm, "rds-encrypt — Encrypt")
			tm.Send(key("enter"))
			goldenAs(t, "parameters", waitScreen(t, tm, "Parameters", "instance *", "app_password"))

			// instance: prefilled; make it invalid to see the inline message, then fix it
			tm.Type("_X")
			tm.Send(key("enter"))
			waitScreen(t, tm, "does not match the pattern")
			tm.Send(key("backspace"))
			tm.Send(key("backspace"))
			for _, k := range []string{"enter", "enter", "enter", "enter"} { // target (derived), mode, keep_old
				tm.Send(key(k))
				screen(t, tm)
			}
			// huh moves focus by a Cmd: type only once the password field has it
			waitScreen(t, tm, "┃ app_password")
			tm.Type("hunter2")
			tm.Send(key("enter"))
			s := waitScreen(t, tm, "Plan", "5 steps, 1 destructive")
			if strings.Contains(s, "hunter2") {
				t.Fatalf("secret shown on the plan:\n%s", s)
			}
			goldenAs(t, "plan", s)

			tm.Type("m")
			waitScreen(t, tm, "save to › ./rds-encrypt-plan.md")
			for range len("./rds-encrypt-plan.md") {
				tm.Send(key("backspace"))
			}
			path := filepath.Join(dir, "plan.md")
			tm.Type(path)
			tm.Send(key("enter"))
			waitScreen(t, tm, "plan saved to")
			md, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"# Plan: Encrypt an RDS instance", "### 4. Restore and swap the instance ⚠ destructive", "rds ModifyDBInstance app-db → app-db-old", "| app_password | `••••` |"} {
				if !strings.Contains(string(md), want) {
					t.Fatalf("markdown lacks %q:\n%s", want, md)
				}
			}
			if strings.Contains(string(md), "hunter2") {
				t.Fatal("secret written to the plan")
			}

			tm.Send(key("enter"))
			goldenAs(t, "run", waitScreen(t, tm, "42%"))
			if vals["target"].S != "app-db-enc" || vals["app_password"].S != "hunter2" || vals["instance"].S != "app-db" {
				t.Fatalf("values given to Start: %+v", vals)
			}
			fm := stop(t, tm)
			if fm.Page() != "run" {
				t.Fatalf("page = %s", fm.Page())
			}
		})
	}
}

func TestFullHelp(t *testing.T) {
	f := newFake("r-1")
	scriptRunning(f, 3)
	tm := start(t, tui.NewRunView(deps(), f, opts()...), 80, 24)
	waitScreen(t, tm, "42%")
	tm.Type("?")
	golden(t, waitScreen(t, tm, "ctrl+c"))
	stop(t, tm)
}

func TestLiveTargetAndLateETA(t *testing.T) {
	f := newFake("r-1")
	info := sampleRunInfo("r-1")
	info.Target = "AWS account 123456789012"
	info.WindowEnd = t0.Add(20 * 60e9)
	f.emit(0, events.Event{Type: events.RunStarted, Run: info})
	f.emit(1, events.Event{Type: events.StepChecking, Step: "snapshot"})
	f.emit(2, events.Event{Type: events.StepApplying, Step: "snapshot"})
	d := deps()
	d.Target = info.Target
	tm := start(t, tui.NewRunView(d, f, opts()...), 80, 24)
	golden(t, waitScreen(t, tm, "LIVE · AWS account 123456789012", "late"))
	stop(t, tm)
}

func TestResolveErrorReopensTheForm(t *testing.T) {
	var vals runbooks.Values
	d := wizardDeps(newFake("r-1"), &vals)
	d.Resolve = func(*runbooks.Runbook, map[string]string) (runbooks.Values, error) {
		return nil, errors.New("parameter target: app-db-enc already exists")
	}
	rb := sampleRunbooks()[1] // no parameters: straight to Resolve
	tm := start(t, tui.New(d, append(opts(), tui.WithRunbook(rb))...), 80, 24)
	waitScreen(t, tm, "app-db-enc already exists")
	fm := stop(t, tm)
	if fm.Page() != "parameters" {
		t.Fatalf("page = %s", fm.Page())
	}
}
