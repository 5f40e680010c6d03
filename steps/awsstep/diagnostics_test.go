package awsstep

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/events"
	"github.com/cairn-runbooks/cairn/runbooks"
	"github.com/cairn-runbooks/cairn/steps"
)

// TestEverySourcePrintsThroughTheOneFormatter takes one real diagnostic from each of the four
// sources (the runbook loader, a blocked check, this package's preflight, parameter resolution)
// plus a run's step failure, and renders each plain and styled: the plain form names where, what,
// why, the state and the next step, and the styled form sends each part through its own style.
func TestEverySourcePrintsThroughTheOneFormatter(t *testing.T) {
	_, err := runbooks.Load("broken.yaml", []byte("schema: 1\nname: broken\ntitle: Broken\nsteps:\n  - id: a\n    kind: nosuchkind\n    title: A\n"), steps.NewRegistry())
	var ps runbooks.Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("loading a runbook with an unknown kind: %v, want Problems", err)
	}
	inst := rdstypes.DBInstance{DBInstanceIdentifier: aws.String("app-db"), Engine: aws.String("postgres"), DBInstanceStatus: aws.String("available"), StorageEncrypted: aws.Bool(true), KmsKeyId: aws.String("k1")}
	fs := judge(inst, false)
	if len(fs) != 1 {
		t.Fatalf("preflight of an encrypted instance: %+v, want one finding", fs)
	}
	rb := &runbooks.Runbook{Name: "rds-encrypt", Parameters: []*runbooks.Param{{Name: "instance", Required: true}}}
	_, err = runbooks.Resolve(rb, map[string]string{}, runbooks.Sources{})
	var pds diag.Diagnostics
	if !errors.As(err, &pds) || len(pds) != 1 {
		t.Fatalf("resolving without a required parameter: %v, want one diagnostic", err)
	}
	step := events.Diag{Summary: "step copy failed in apply", Detail: "snapshot quota exceeded", State: "applied so far: preflight", Next: "cairn resume r1"}

	cases := []struct {
		source string
		d      diag.Diagnostic
		plain  []string // substrings, in order, of the plain lines
	}{
		{"loader", ps[0].Diagnostic(), []string{`broken.yaml:6:11: step "a": unknown kind "nosuchkind"`, "  next: use one of"}},
		{"check", steps.BlockedBy("role app exists with another password", "cairn run … -p role=app2").Diagnostic("create-role"),
			[]string{"create-role: role app exists with another password", "  next: cairn run … -p role=app2"}},
		{"preflight", fs[0], []string{"instance app-db is already encrypted (key k1)", "  next: nothing to do"}},
		{"parameters", pds[0], []string{"missing parameter instance: add -p instance=<value>"}},
		{"run", step, []string{"step copy failed in apply", "  why: snapshot quota exceeded", "  state: applied so far: preflight", "  next: cairn resume r1"}},
	}
	mark := func(tag string) func(string) string {
		return func(s string) string { return "<" + tag + ">" + s + "</" + tag + ">" }
	}
	style := diag.Style{Summary: mark("s"), Detail: mark("d"), State: mark("st"), Next: mark("n")}
	for _, c := range cases {
		t.Run(c.source, func(t *testing.T) {
			lines := diag.Lines(c.d)
			if len(lines) != len(c.plain) {
				t.Fatalf("plain: %q, want %d lines like %q", lines, len(c.plain), c.plain)
			}
			for i, want := range c.plain {
				if !strings.Contains(lines[i], want) || strings.HasPrefix(want, "  ") && !strings.HasPrefix(lines[i], want) {
					t.Fatalf("plain line %d: %q, want %q", i, lines[i], want)
				}
			}
			if c.d.Error() != strings.Join(lines, "\n") {
				t.Fatalf("Error() %q is not the plain form", c.d.Error())
			}
			styled := strings.Split(diag.Styled(c.d, style), "\n")
			if len(styled) != len(lines) || !strings.HasPrefix(styled[0], "<s>✗ ") || !strings.Contains(styled[0], c.d.Summary) {
				t.Fatalf("styled: %q", styled)
			}
			if c.d.Next != "" && styled[len(styled)-1] != "<n>next: "+c.d.Next+"</n>" {
				t.Fatalf("styled next: %q", styled[len(styled)-1])
			}
			if c.d.State != "" && !strings.Contains(strings.Join(styled, "\n"), "<st>state: "+c.d.State+"</st>") {
				t.Fatalf("styled state: %q", styled)
			}
		})
	}
}
