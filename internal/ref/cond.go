package ref

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"

	"strconv"
	"strings"
)

// Cond is a `when:` condition: terms joined by && or || (&& binds tighter), each term one of
//
//	${params.x}                 true when the value is true/yes/1 or a non-empty non-"false" string
//	!${params.x}                its negation
//	${params.x} == "value"      equality with a quoted literal (also !=)
//
// No other operators exist; a runbook that needs more says so in two steps.
type Cond struct {
	Raw  string
	Pos  Pos
	ors  [][]term // disjunction of conjunctions
	refs []Ref
}

type term struct {
	ref    Ref
	negate bool
	op     string // "", "==", "!="
	lit    string
}

// ParseCond parses a condition.
func ParseCond(s string) (Cond, error) {
	c := Cond{Raw: s}
	if strings.TrimSpace(s) == "" {
		return c, fmt.Errorf("empty condition")
	}
	for _, orPart := range strings.Split(s, "||") {
		var conj []term
		for _, andPart := range strings.Split(orPart, "&&") {
			t, err := parseTerm(strings.TrimSpace(andPart))
			if err != nil {
				return c, fmt.Errorf("condition %q: %w", s, err)
			}
			conj = append(conj, t)
			c.refs = append(c.refs, t.ref)
		}
		c.ors = append(c.ors, conj)
	}
	return c, nil
}

func parseTerm(s string) (term, error) {
	var t term
	if strings.HasPrefix(s, "!") && !strings.HasPrefix(s, "!=") {
		t.negate = true
		s = strings.TrimSpace(s[1:])
	}
	if !strings.HasPrefix(s, "${") {
		return t, fmt.Errorf("a term must start with a reference such as ${params.strategy}")
	}
	end := strings.Index(s, "}")
	if end < 0 {
		return t, fmt.Errorf("unclosed ${")
	}
	r, err := parseRef(s[2:end])
	if err != nil {
		return t, err
	}
	t.ref = r
	rest := strings.TrimSpace(s[end+1:])
	if rest == "" {
		return t, nil
	}
	if t.negate {
		return t, fmt.Errorf("write ${x} != \"v\" rather than !${x} == \"v\"")
	}
	for _, op := range []string{"==", "!="} {
		if strings.HasPrefix(rest, op) {
			t.op = op
			lit := strings.TrimSpace(rest[len(op):])
			u, err := strconv.Unquote(lit)
			if err != nil {
				return t, fmt.Errorf("compare with a quoted value, e.g. == \"logical\" (got %s)", lit)
			}
			t.lit = u
			return t, nil
		}
	}
	return t, fmt.Errorf("unexpected %q: only ==, !=, &&, || and ! are allowed", rest)
}

// Refs lists the references the condition reads.
func (c Cond) Refs() []Ref { return c.refs }

// IsZero reports whether no condition was given.
func (c Cond) IsZero() bool { return c.Raw == "" }

// Eval evaluates the condition. A reference whose value is not known yet is an error wrapping ErrUnknown.
func (c Cond) Eval(look Lookup) (bool, error) {
	if c.IsZero() {
		return true, nil
	}
	for _, conj := range c.ors {
		all := true
		for _, t := range conj {
			ok, err := t.eval(look)
			if err != nil {
				return false, err
			}
			if !ok {
				all = false
				break
			}
		}
		if all {
			return true, nil
		}
	}
	return false, nil
}

func (t term) eval(look Lookup) (bool, error) {
	v, err := resolve(look, t.ref)
	if err != nil {
		return false, err
	}
	switch t.op {
	case "==":
		return v.S == t.lit, nil
	case "!=":
		return v.S != t.lit, nil
	}
	b := Truthy(v.S)
	if t.negate {
		b = !b
	}
	return b, nil
}

// Truthy is how a condition reads a bare value.
func Truthy(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "false", "no", "0", "off", "n":
		return false
	}
	return true
}

// UnmarshalYAML decodes a condition from a scalar, keeping its position.
func (c *Cond) UnmarshalYAML(node ast.Node) error {
	s, pos, err := scalar(node)
	if err != nil {
		return err
	}
	parsed, err := ParseCond(s)
	if err != nil {
		return err
	}
	parsed.Pos = pos
	*c = parsed
	return nil
}
