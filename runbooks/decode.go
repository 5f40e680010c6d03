package runbooks

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// maxDecodeProblems bounds how many wrong values one decode reports before it gives up.
const maxDecodeProblems = 50

// decode fills a fresh value from node. A value of the wrong type ("approvals: two") or an unknown
// field becomes a problem in the runbook's terms — the key, what it wants, what it got, at the
// value's line and column — and decoding goes on without that value, so every such problem is
// reported together with the rest. It returns nil when the YAML could not be decoded at all.
func decode[T any](file string, node ast.Node, fresh func() T, fix string) (T, Problems) {
	var ps Problems
	var zero T
	for len(ps) < maxDecodeProblems {
		dst := fresh()
		err := safely(func() error { return yaml.NodeToValue(node, dst, yaml.DisallowUnknownField()) })
		if err == nil {
			return dst, ps
		}
		p, tk, drop := decodeProblem(file, node, err, fix)
		ps = append(ps, p)
		if tk == nil || !without(node, tk, drop) {
			return zero, ps
		}
	}
	return zero, ps
}

// valueError is a value a field's own UnmarshalYAML refuses, with where it is.
type valueError struct {
	tk  *token.Token
	msg string // "want a duration such as 10m, got \"5x\""
}

func (e *valueError) Error() string { return e.msg }

// dropKind says what to leave out to decode on past a problem.
type dropKind int

const (
	dropValue dropKind = iota // the value (decoded as if empty)
	dropKey                   // the whole key: value pair
)

// decodeProblem turns a decoding error into a problem, and says which token to leave out to go on
// (nil: stop).
func decodeProblem(file string, root ast.Node, err error, fix string) (Problem, *token.Token, dropKind) {
	var (
		te *yaml.TypeError
		ue *yaml.UnexpectedNodeTypeError
		oe *yaml.OverflowError
		ve *valueError
		se *steps.ValueError
		ke *yaml.UnknownFieldError
	)
	at := func(tk *token.Token, msg, fix string) Problem {
		p := Problem{File: file, Msg: msg, Fix: fix}
		if tk != nil && tk.Position != nil {
			p.Pos = ref.Pos{Line: tk.Position.Line, Column: tk.Position.Column}
		}
		return p
	}
	switch {
	case errors.As(err, &te) && te.Token != nil:
		want := wantOf(te.DstType)
		return at(te.Token, fmt.Sprintf("%s: want %s, got %s", keyOf(root, te.Token), want, gotOf(te.Token)), "give "+want), te.Token, dropValue
	case errors.As(err, &ue) && ue.Token != nil:
		want := nodeKind(ue.Expected)
		return at(ue.Token, fmt.Sprintf("%s: want %s, got %s", keyOf(root, ue.Token), want, nodeKind(ue.Actual)), "give "+want), ue.Token, dropValue
	case errors.As(err, &oe) && oe.Token != nil:
		return at(oe.Token, fmt.Sprintf("%s: %s is too large for %s", keyOf(root, oe.Token), oe.SrcNum, wantOf(oe.DstType)), "give a smaller number"), oe.Token, dropValue
	case errors.As(err, &ve):
		return at(ve.tk, keyOf(root, ve.tk)+": "+ve.msg, ""), ve.tk, dropValue
	case errors.As(err, &se) && se.Token != nil:
		return at(se.Token, keyOf(root, se.Token)+": "+se.Msg, ""), se.Token, dropValue
	case errors.As(err, &ke) && ke.Token != nil:
		return at(ke.Token, ke.Message, fix), ke.Token, dropKey
	}
	return problemFromYAML(file, err, fix), nil, dropValue
}

// wantOf says in a runbook's words what a Go type takes.
func wantOf(t reflect.Type) string {
	if t == nil {
		return "another value"
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "text"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "a mapping (key: value lines)"
	}
	return "another value"
}

// gotOf shows the value found, as written.
func gotOf(tk *token.Token) string {
	switch tk.Type {
	case token.MappingStartType, token.MappingValueType, token.MappingKeyType:
		return "a mapping"
	case token.SequenceStartType, token.SequenceEntryType:
		return "a list"
	}
	return fmt.Sprintf("%q", tk.Value)
}

func nodeKind(t ast.NodeType) string {
	switch t {
	case ast.MappingType:
		return "a mapping (key: value lines)"
	case ast.SequenceType:
		return "a list"
	case ast.StringType, ast.LiteralType:
		return "text"
	case ast.IntegerType, ast.FloatType:
		return "a number"
	case ast.BoolType:
		return "true or false"
	case ast.NullType:
		return "nothing"
	}
	return strings.ToLower(t.String())
}

// keyOf names the key whose value (or list item) holds tk: "approvals", "keys item 2".
func keyOf(root ast.Node, tk *token.Token) string {
	name := "value"
	walk(root, func(parent *ast.MappingValueNode, seq *ast.SequenceNode, i int, n ast.Node) bool {
		if !sameToken(n.GetToken(), tk) {
			return false
		}
		switch {
		case seq != nil && parent != nil:
			name = fmt.Sprintf("%s item %d", parent.Key.GetToken().Value, i+1)
		case seq != nil:
			name = fmt.Sprintf("item %d", i+1)
		case parent != nil:
			name = parent.Key.GetToken().Value
		}
		return true
	})
	return name
}

// without leaves out the value holding tk (replaced by null), or the key: value pair whose key is tk.
func without(root ast.Node, tk *token.Token, what dropKind) bool {
	done := false
	if what == dropKey {
		walkMappings(root, func(m *ast.MappingNode) bool {
			for i, mv := range m.Values {
				if sameToken(mv.Key.GetToken(), tk) {
					m.Values = append(m.Values[:i:i], m.Values[i+1:]...)
					done = true
					return true
				}
			}
			return false
		})
		return done
	}
	walk(root, func(parent *ast.MappingValueNode, seq *ast.SequenceNode, i int, n ast.Node) bool {
		if !sameToken(n.GetToken(), tk) {
			return false
		}
		null := ast.Null(token.New("null", "null", tk.Position))
		switch {
		case seq != nil:
			seq.Values[i] = null
		case parent != nil:
			parent.Value = null
		default:
			return false
		}
		done = true
		return true
	})
	return done
}

func sameToken(a, b *token.Token) bool {
	if a == nil || b == nil {
		return false
	}
	if a == b {
		return true
	}
	return a.Position != nil && b.Position != nil && a.Position.Offset == b.Position.Offset &&
		a.Position.Line == b.Position.Line && a.Position.Column == b.Position.Column && a.Value == b.Value
}

// walk calls f for every value node with the mapping pair or list that holds it, until f says done.
func walk(n ast.Node, f func(parent *ast.MappingValueNode, seq *ast.SequenceNode, i int, n ast.Node) bool) bool {
	var visit func(parent *ast.MappingValueNode, n ast.Node) bool
	visit = func(parent *ast.MappingValueNode, n ast.Node) bool {
		switch v := n.(type) {
		case nil:
			return false
		case *ast.DocumentNode:
			return visit(nil, v.Body)
		case *ast.MappingNode:
			for _, mv := range v.Values {
				if visit(nil, mv) {
					return true
				}
			}
		case *ast.MappingValueNode:
			if f(v, nil, 0, v.Value) {
				return true
			}
			return visit(v, v.Value)
		case *ast.SequenceNode:
			for i, x := range v.Values {
				if f(parent, v, i, x) || visit(parent, x) {
					return true
				}
			}
		case *ast.AnchorNode:
			return visit(parent, v.Value)
		case *ast.TagNode:
			return visit(parent, v.Value)
		}
		return false
	}
	return visit(nil, n)
}

// walkMappings calls f for every mapping, until f says done.
func walkMappings(n ast.Node, f func(m *ast.MappingNode) bool) {
	var visit func(n ast.Node) bool
	visit = func(n ast.Node) bool {
		switch v := n.(type) {
		case *ast.DocumentNode:
			return visit(v.Body)
		case *ast.MappingNode:
			if f(v) {
				return true
			}
			for _, mv := range v.Values {
				if visit(mv.Value) {
					return true
				}
			}
		case *ast.MappingValueNode:
			return visit(v.Value)
		case *ast.SequenceNode:
			for _, x := range v.Values {
				if visit(x) {
					return true
				}
			}
		case *ast.AnchorNode:
			return visit(v.Value)
		case *ast.TagNode:
			return visit(v.Value)
		}
		return false
	}
	visit(n)
}

// parseDuration reads a duration a runbook gives: Go's form (90s, 10m, 1h30m), never negative.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("want a duration such as 90s, 10m or 1h30m, got %q", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("want a duration of 0 or more (such as 10m), got %q", s)
	}
	return d, nil
}
