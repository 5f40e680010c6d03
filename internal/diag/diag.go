// Package diag is cairn's one diagnostic type and its one formatter. Every error an engineer can
// meet — a runbook the loader refuses, a check that is blocked, a preflight's finding, a parameter
// that does not resolve, a step that fails in a run — is a Diagnostic, and every view (the TUI, the
// plain line view, the report, the CLI's error output) prints it through Lines, styled or plain.
// Terraform's internal/tfdiags and command/format.Diagnostic are the model.
package diag

import "strings"

// Severity says whether a diagnostic stops the work.
type Severity string

// Severities. The zero value is Error.
const (
	Error   Severity = ""
	Warning Severity = "warning"
)

// Diagnostic is an error for the engineer: what failed, where, why and in what state things are,
// and what to do next.
type Diagnostic struct {
	Severity Severity `json:"severity,omitempty"`
	Summary  string   `json:"summary"`
	// Detail says why.
	Detail string `json:"detail,omitempty"`
	// Address is where: a step id, or file:line:col in a runbook.
	Address string `json:"address,omitempty"`
	// State is what state things are in now.
	State string `json:"state,omitempty"`
	// Next is the exact next command or action.
	Next string `json:"next,omitempty"`
}

// Error is the diagnostic in its plain form.
func (d Diagnostic) Error() string { return strings.Join(Lines(d), "\n") }

// Diagnostics is every problem found at once; they are reported together.
type Diagnostics []Diagnostic

// Error is each diagnostic in its plain form, one after another.
func (ds Diagnostics) Error() string {
	var out []string
	for _, d := range ds {
		out = append(out, Lines(d)...)
	}
	return strings.Join(out, "\n")
}

// Role is what one line of a rendered diagnostic holds; a styled formatter styles by it.
type Role int

// Roles.
const (
	RoleSummary Role = iota
	RoleDetail
	RoleState
	RoleNext
)

// Line is one line of a rendered diagnostic, unstyled.
type Line struct {
	Role Role
	Text string
}

// Parts is the diagnostic as labelled lines, in the order every view shows them: summary (with its
// address in front), detail, state, next.
func Parts(d Diagnostic) []Line {
	head := d.Summary
	if d.Severity == Warning {
		head = "warning: " + head
	}
	if d.Address != "" {
		head = d.Address + ": " + head
	}
	out := []Line{{RoleSummary, head}}
	if d.Detail != "" {
		out = append(out, Line{RoleDetail, d.Detail})
	}
	if d.State != "" {
		out = append(out, Line{RoleState, d.State})
	}
	if d.Next != "" {
		out = append(out, Line{RoleNext, d.Next})
	}
	return out
}

var plainLabel = map[Role]string{RoleDetail: "  why: ", RoleState: "  state: ", RoleNext: "  next: "}

// Lines is the plain variant: the summary line, then indented "why:", "state:" and "next:" lines.
// A caller that heads the first line (the plain view's "step FAILED (apply): ") prints it after
// its own head.
func Lines(d Diagnostic) []string {
	var out []string
	for _, l := range Parts(d) {
		out = append(out, plainLabel[l.Role]+l.Text)
	}
	return out
}

// Headed is Lines with head in front of the summary line, for a view that opens the line with its
// own words ("b FAILED (apply): …", "check: blocked — …").
func Headed(head string, d Diagnostic) []string {
	out := Lines(d)
	out[0] = head + out[0]
	return out
}

// Style is what the styled variant needs: a function per role that colours and wraps a line.
// A nil function leaves its lines as they are.
type Style struct {
	Summary, Detail, State, Next func(string) string
}

var styledLabel = map[Role]string{RoleSummary: "✗ ", RoleState: "state: ", RoleNext: "next: "}

// Styled is the styled variant, for a terminal: "✗ summary", the detail, "state: …" and "next: …",
// each line through its role's style.
func Styled(d Diagnostic, st Style) string {
	fn := map[Role]func(string) string{RoleSummary: st.Summary, RoleDetail: st.Detail, RoleState: st.State, RoleNext: st.Next}
	var out []string
	for _, l := range Parts(d) {
		s := styledLabel[l.Role] + l.Text
		if f := fn[l.Role]; f != nil {
			s = f(s)
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}
