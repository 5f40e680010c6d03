package runbooks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/goccy/go-yaml"
)

// Problem is one thing wrong with a runbook, where it is and how to fix it.
type Problem struct {
	File string
	Pos  ref.Pos
	Msg  string
	Fix  string
}

// Diagnostic is the problem as the one diagnostic type: its address is file:line:col, its next
// step the fix.
func (p Problem) Diagnostic() diag.Diagnostic {
	loc := p.File
	if p.Pos.Line > 0 {
		loc = fmt.Sprintf("%s:%d:%d", p.File, p.Pos.Line, p.Pos.Column)
	}
	return diag.Diagnostic{Address: loc, Summary: p.Msg, Next: p.Fix}
}

func (p Problem) String() string { return p.Diagnostic().Error() }

// Problems is every problem found in one runbook; loading reports them all at once.
type Problems []Problem

func (ps Problems) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "runbook is not valid (%d problem", len(ps))
	if len(ps) != 1 {
		b.WriteString("s")
	}
	b.WriteString("); nothing was run:")
	for _, p := range ps {
		for _, l := range diag.Lines(p.Diagnostic()) {
			b.WriteString("\n  " + l)
		}
	}
	return b.String()
}

// problemFromYAML turns a go-yaml error into a positioned problem.
func problemFromYAML(file string, err error, fix string) Problem {
	var ye yaml.Error
	if errors.As(err, &ye) {
		p := Problem{File: file, Msg: ye.GetMessage(), Fix: fix}
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			p.Pos = ref.Pos{Line: tk.Position.Line, Column: tk.Position.Column}
		}
		return p
	}
	return Problem{File: file, Msg: err.Error(), Fix: fix}
}
