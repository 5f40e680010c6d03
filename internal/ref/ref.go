// Package ref parses and renders the references a runbook uses in its step parameters:
// ${params.name}, ${steps.<id>.<output>} and ${item} (the current element of a foreach), each with
// optional filters (| ident, | literal, | scram, | sh).
//
// A reference is never pasted into text blindly. How it is rendered depends on where it is used:
//   - in SQL (Template.SQL) a bare reference becomes a bind parameter ($1, $2 …); `| ident` quotes it
//     as an identifier, `| literal` as a string literal, `| scram` turns a password into a SCRAM-SHA-256
//     verifier literal (so the password itself never reaches the server's logs);
//   - in a command line that a shell reads (Template.Text with `| sh`, e.g. archive_command) the value
//     is quoted for /bin/sh, so it stays one word whatever it holds;
//   - in an argv element or a file (Template.Text) the value fills exactly that element, unsplit;
//   - in a plan (Template.Describe) secrets show as •••• and values known only after an earlier step
//     as "(known after apply)".
package ref

import (
	"fmt"
	"strings"
)

// Scope is what a reference points into.
type Scope string

// The scopes a reference may name.
const (
	Params Scope = "params"
	Steps  Scope = "steps"
	Item   Scope = "item"
)

// Ref is one ${…} reference.
type Ref struct {
	Scope   Scope
	Name    string   // parameter name, or step id
	Output  string   // output name (Steps only)
	Filters []string // ident, literal, scram, sh
}

// String renders the reference as written in a runbook.
func (r Ref) String() string {
	var b strings.Builder
	b.WriteString("${")
	switch r.Scope {
	case Item:
		b.WriteString("item")
	case Steps:
		b.WriteString("steps." + r.Name + "." + r.Output)
	default:
		b.WriteString(string(r.Scope) + "." + r.Name)
	}
	for _, f := range r.Filters {
		b.WriteString(" | " + f)
	}
	b.WriteString("}")
	return b.String()
}

// Filters a reference may carry.
var knownFilters = map[string]bool{"ident": true, "literal": true, "scram": true, "sh": true}

// parseRef parses the inside of ${…}.
func parseRef(s string) (Ref, error) {
	parts := strings.Split(s, "|")
	path := strings.TrimSpace(parts[0])
	var r Ref
	for _, f := range parts[1:] {
		f = strings.TrimSpace(f)
		if !knownFilters[f] {
			return r, fmt.Errorf("unknown filter %q in ${%s} (known: ident, literal, scram, sh)", f, s)
		}
		r.Filters = append(r.Filters, f)
	}
	fields := strings.Split(path, ".")
	switch {
	case path == "item":
		r.Scope = Item
	case fields[0] == "params" && len(fields) == 2 && fields[1] != "":
		r.Scope, r.Name = Params, fields[1]
	case fields[0] == "steps" && len(fields) == 3 && fields[1] != "" && fields[2] != "":
		r.Scope, r.Name, r.Output = Steps, fields[1], fields[2]
	default:
		return r, fmt.Errorf("bad reference ${%s}: write ${params.<name>}, ${steps.<id>.<output>} or ${item}", s)
	}
	return r, nil
}

// Value is what a reference resolves to.
type Value struct {
	S      string   // the value (for a list: unused)
	List   []string // set when the value is a list (foreach sources)
	Secret bool     // never shown, logged or journaled
	// Unknown is true when the value will only be known after an earlier step applies (plans).
	Unknown bool
}

// IsList reports whether the value is a list.
func (v Value) IsList() bool { return v.List != nil }

// Lookup resolves a reference to its value; ok is false when nothing by that name exists.
type Lookup func(r Ref) (v Value, ok bool)
