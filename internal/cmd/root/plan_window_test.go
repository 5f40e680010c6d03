package root_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/cmd/cmdtest"
	"github.com/cairn-runbooks/cairn/internal/cmd/plan"
	"github.com/cairn-runbooks/cairn/internal/exitcode"
)

// windowRunbook prepares, then stops the application on a typed confirmation, swaps on a yes/no
// one, and cleans up after the window; its cut-back stands apart.
const windowRunbook = `schema: 1
name: windowed
title: Prepare, stop, swap
parameters:
  - {name: app, required: true}
window: {from: stop, to: swap}
steps:
  - {id: prepare, kind: exec, title: Prepare, with: {argv: ["true"], read_only: true}}
  - {id: stop, kind: exec, title: Stop the application, confirm: typed, confirm_value: "${params.app}", with: {argv: ["true"]}}
  - {id: swap, kind: exec, title: Swap, confirm: "yes", with: {argv: ["true"]}}
  - {id: clean, kind: exec, title: Clean up, with: {argv: ["true"]}}
cutback:
  - {id: back, kind: exec, title: Go back, with: {argv: ["true"]}}
`

// The plan heads each phase of the window and marks every confirmation with what answers it
// without a terminal: a typed one names its --confirm and says --yes does not answer it.
func TestPlanWindowPhases(t *testing.T) {
	rb := cmdtest.RunbookFile(t, windowRunbook)
	out, _, err := cmdtest.Output(nil, plan.NewCmdPlan, "--file", rb, "windowed", "-p", "app=shop")
	if err != nil {
		t.Fatal(err)
	}
	want := "# Plan: windowed — Prepare, stop, swap\n\n- app = shop\n\n" +
		"# Before the window — the application works\n\n" +
		"## 1. prepare — Prepare\n```\n[exec → local]\ntrue\n```\n\n" +
		"# The window — the application is stopped from here\n\n" +
		"## 2. stop — Stop the application\n   (typed confirmation: type shop — `--confirm stop=shop`; `--yes` does not answer it)\n```\n[exec → local]\ntrue\n```\n\n" +
		"## 3. swap — Swap\n   (confirmation: yes/no — `--yes` answers it)\n```\n[exec → local]\ntrue\n```\n\n" +
		"# After the window — the application works again\n\n" +
		"## 4. clean — Clean up\n```\n[exec → local]\ntrue\n```\n\n" +
		"## cut-back: back — Go back\n```\n[exec → local]\ntrue\n```\n\n" +
		"Plan: 4 steps (not checked against the targets: add --check).\n"
	if _, got, _ := strings.Cut(out, "\n\n"); got != want {
		t.Fatalf("plan:\n%s\nwant:\n%s", got, want)
	}
}

// A checked plan with a step blocked as things stand exits 9 and names it, so a scripted gate
// before the window fails; the same plan with nothing blocked (cannot tell only) exits 0.
func TestPlanCheckBlockedExits9(t *testing.T) {
	dir := t.TempDir()
	rb := cmdtest.RunbookFile(t, `schema: 1
name: gate
title: A gate
parameters:
  - {name: owner, required: true}
  - {name: dir, required: true}
steps:
  - {id: unsure, kind: exec, title: Cannot tell, with: {argv: ["true"]}}
  - id: conf
    kind: config-file
    title: Write a file owned by owner
    with: {path: "${params.dir}/x.conf", owner: "${params.owner}", sections: [{name: s, set: {k: v}}]}
`)
	out, _, err := cmdtest.Output(nil, plan.NewCmdPlan, "--file", rb, "gate", "-p", "owner=no-such-user-cairn", "-p", "dir="+dir, "--check")
	var ec *exitcode.Err
	if !errors.As(err, &ec) || ec.Code != 9 || !strings.Contains(ec.Error(), "blocked as things stand: conf") {
		t.Fatalf("plan --check with a blocked step: %v (%#v), want exit 9 naming conf\n%s", err, ec, out)
	}
	if !strings.Contains(out, "1 blocked, 1 cannot tell") {
		t.Errorf("headline does not count the blocked step:\n%s", out)
	}
	out, _, err = cmdtest.Output(nil, plan.NewCmdPlan, "--file", rb, "gate", "-p", "owner=root", "-p", "dir="+filepath.Join(dir, "ok"), "--check")
	if err != nil || !strings.Contains(out, "0 blocked, 1 cannot tell") {
		t.Fatalf("plan --check with nothing blocked: %v, want exit 0\n%s", err, out)
	}
}
