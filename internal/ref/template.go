package ref

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// Pos is where a template was written in its runbook.
type Pos struct{ Line, Column int }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Line, p.Column) }

// Template is a string with references in it, parsed once when the runbook is loaded.
type Template struct {
	Raw   string
	Pos   Pos
	set   bool // written in the runbook (even as "")
	parts []part
}

type part struct {
	lit string
	ref *Ref
}

// Parse parses a template string. "$${" writes a literal "${".
func Parse(s string) (Template, error) {
	t := Template{Raw: s}
	rest := s
	var lit strings.Builder
	for {
		i := strings.Index(rest, "${")
		if i < 0 {
			lit.WriteString(rest)
			break
		}
		if i > 0 && rest[i-1] == '$' {
			lit.WriteString(rest[:i-1] + "${")
			rest = rest[i+2:]
			continue
		}
		lit.WriteString(rest[:i])
		end := strings.Index(rest[i:], "}")
		if end < 0 {
			return t, fmt.Errorf("unclosed ${ in %q", s)
		}
		r, err := parseRef(rest[i+2 : i+end])
		if err != nil {
			return t, err
		}
		if lit.Len() > 0 {
			t.parts = append(t.parts, part{lit: lit.String()})
			lit.Reset()
		}
		t.parts = append(t.parts, part{ref: &r})
		rest = rest[i+end+1:]
	}
	if lit.Len() > 0 {
		t.parts = append(t.parts, part{lit: lit.String()})
	}
	return t, nil
}

// MustParse parses a template known to be valid (tests, built-in literals).
func MustParse(s string) Template {
	t, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return t
}

// Refs lists the template's references in order.
func (t Template) Refs() []Ref {
	var out []Ref
	for _, p := range t.parts {
		if p.ref != nil {
			out = append(out, *p.ref)
		}
	}
	return out
}

// IsZero reports whether the template was never set.
func (t Template) IsZero() bool { return !t.set && t.Raw == "" && len(t.parts) == 0 }

// UnmarshalYAML decodes a scalar into a template, keeping its position.
func (t *Template) UnmarshalYAML(node ast.Node) error {
	s, pos, err := scalar(node)
	if err != nil {
		return err
	}
	parsed, err := Parse(s)
	if err != nil {
		return err
	}
	parsed.Pos = pos
	parsed.set = true
	*t = parsed
	return nil
}

// scalar reads a scalar node's text and position.
func scalar(node ast.Node) (string, Pos, error) {
	var pos Pos
	if tk := node.GetToken(); tk != nil && tk.Position != nil {
		pos = Pos{tk.Position.Line, tk.Position.Column}
	}
	switch n := node.(type) {
	case *ast.StringNode:
		return n.Value, pos, nil
	case *ast.LiteralNode:
		return n.Value.Value, pos, nil
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode:
		return n.GetToken().Value, pos, nil
	case *ast.NullNode:
		return "", pos, nil
	}
	return "", pos, fmt.Errorf("expected a string, found %s", node.Type())
}

// ErrUnknown is returned when a value is not known yet (an earlier step's output at plan time).
var ErrUnknown = errors.New("(known after apply)")

// ErrNoValue is returned when a reference has no value at all (an optional parameter not given).
var ErrNoValue = errors.New("no such value")

// Text renders the template as plain text: each reference's value is inserted whole.
// It is for argv elements, file contents and identifiers passed to APIs — never SQL.
func (t Template) Text(look Lookup) (string, error) {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := resolve(look, *p.ref)
		if err != nil {
			return "", err
		}
		s, err := applyTextFilters(v, p.ref.Filters)
		if err != nil {
			return "", fmt.Errorf("%s: %w", p.ref, err)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// Describe renders the template for a plan: secrets as ••••, unknown values as (known after apply).
func (t Template) Describe(look Lookup) string {
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		v, ok := look(*p.ref)
		switch {
		case !ok:
			b.WriteString(p.ref.String())
		case v.Secret:
			b.WriteString("••••")
		case v.Unknown:
			b.WriteString("(known after apply)")
		case v.IsList():
			b.WriteString(strings.Join(v.List, ", "))
		default:
			s, err := applyTextFilters(v, p.ref.Filters)
			if err != nil {
				s = p.ref.String()
			}
			b.WriteString(s)
		}
	}
	return b.String()
}

// SQL renders the template as a statement and its bind arguments. A bare reference becomes $n;
// filtered references are quoted in place. Secret values may only be bound, or turned into a verifier.
func (t Template) SQL(look Lookup) (string, []any, error) {
	var b strings.Builder
	var args []any
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		v, err := resolve(look, *p.ref)
		if err != nil {
			return "", nil, err
		}
		if len(p.ref.Filters) == 0 {
			if v.IsList() {
				args = append(args, v.List)
			} else {
				args = append(args, v.S)
			}
			b.WriteString("$" + strconv.Itoa(len(args)))
			continue
		}
		s, err := applySQLFilters(v, p.ref.Filters)
		if err != nil {
			return "", nil, fmt.Errorf("%s: %w", p.ref, err)
		}
		b.WriteString(s)
	}
	return b.String(), args, nil
}

// DescribeSQL renders the statement as a plan shows it: bind parameters as $n with their values
// listed after it, secrets masked, unknown values marked.
func (t Template) DescribeSQL(look Lookup) string {
	var b strings.Builder
	var args []string
	for _, p := range t.parts {
		if p.ref == nil {
			b.WriteString(p.lit)
			continue
		}
		v, ok := look(*p.ref)
		shown := ""
		switch {
		case !ok:
			shown = p.ref.String()
		case v.Secret && hasFilter(p.ref.Filters, "scram"):
			shown = "'SCRAM-SHA-256$4096:…' /* verifier of •••• computed by cairn */"
		case v.Secret:
			shown = "••••"
		case v.Unknown:
			shown = "(known after apply)"
		}
		if len(p.ref.Filters) == 0 {
			if shown == "" {
				shown = strconv.Quote(v.S)
				if v.IsList() {
					shown = "[" + strings.Join(v.List, ", ") + "]"
				}
			}
			args = append(args, shown)
			b.WriteString("$" + strconv.Itoa(len(args)))
			continue
		}
		if shown == "" {
			s, err := applySQLFilters(v, p.ref.Filters)
			if err != nil {
				s = p.ref.String()
			}
			shown = s
		}
		b.WriteString(shown)
	}
	for i, a := range args {
		if i == 0 {
			b.WriteString("\n  -- with ")
		} else {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d = %s", i+1, a)
	}
	return b.String()
}

func resolve(look Lookup, r Ref) (Value, error) {
	v, ok := look(r)
	if !ok {
		return v, fmt.Errorf("%s: %w", r, ErrNoValue)
	}
	if v.Unknown {
		return v, fmt.Errorf("%s: %w", r, ErrUnknown)
	}
	return v, nil
}

func applyTextFilters(v Value, filters []string) (string, error) {
	s := v.S
	if v.IsList() {
		s = strings.Join(v.List, ",")
	}
	for _, f := range filters {
		switch f {
		case "ident":
			s = QuoteIdent(s)
		case "literal":
			s = QuoteLiteral(s)
		case "scram":
			return "", errors.New("| scram is only for SQL")
		case "sh":
			if v.Secret {
				return "", errors.New("a secret cannot be pasted into a command line: pass it in the environment or a file")
			}
			s = QuoteShell(s)
		}
	}
	return s, nil
}

func applySQLFilters(v Value, filters []string) (string, error) {
	if v.IsList() {
		return "", errors.New("a list can only be bound, not quoted")
	}
	s := v.S
	for i, f := range filters {
		switch f {
		case "ident":
			if v.Secret {
				return "", errors.New("a secret cannot be an identifier")
			}
			s = QuoteIdent(s)
		case "literal":
			if v.Secret {
				return "", errors.New("a secret cannot be pasted as a literal; bind it, or use | scram for a password")
			}
			s = QuoteLiteral(s)
		case "sh":
			return "", errors.New("| sh is for a shell command line, not SQL")
		case "scram":
			if i != len(filters)-1 {
				return "", errors.New("| scram must be the last filter")
			}
			ver, err := ScramVerifier(s)
			if err != nil {
				return "", err
			}
			return QuoteLiteral(ver), nil
		}
	}
	return s, nil
}

// QuoteIdent quotes an SQL identifier.
func QuoteIdent(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, "\x00", ""), `"`, `""`) + `"`
}

// QuoteLiteral quotes an SQL string literal; a value with a backslash uses E” so it reads the
// same whatever standard_conforming_strings says.
func QuoteLiteral(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	q := strings.ReplaceAll(s, `'`, `''`)
	if strings.Contains(q, `\`) {
		return `E'` + strings.ReplaceAll(q, `\`, `\\`) + `'`
	}
	return `'` + q + `'`
}

// QuoteShell quotes a value as one word for /bin/sh: as it is when it holds only characters no shell
// treats specially, else in single quotes (a single quote inside is closed, escaped and reopened). A NUL cannot be passed in a
// command line and is dropped, as QuoteIdent and QuoteLiteral do.
func QuoteShell(s string) string {
	s = strings.ReplaceAll(s, "\x00", "")
	if s != "" && strings.Trim(s, shellSafe) == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// shellSafe are the characters that need no quoting in a POSIX shell word.
const shellSafe = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789@%+=:,./_-"

func hasFilter(fs []string, f string) bool {
	for _, x := range fs {
		if x == f {
			return true
		}
	}
	return false
}
