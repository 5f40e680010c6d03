package runbooks_test

import (
	"context"
	"fmt"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/goccy/go-yaml/ast"
)

// stub is a step kind that accepts any `with:` block, keeping every scalar as a template so the
// loader still validates its references. It lets the sketches of runbooks load before their kinds
// exist.
type stub struct {
	Templates []ref.Template
	outputs   []string
}

func (s *stub) UnmarshalYAML(node ast.Node) error {
	var firstErr error
	ast.Walk(visitor(func(n ast.Node) error {
		switch n.(type) {
		case *ast.StringNode, *ast.LiteralNode:
			var t ref.Template
			if err := t.UnmarshalYAML(n); err != nil {
				if firstErr == nil {
					firstErr = err
				}
				return err
			}
			s.Templates = append(s.Templates, t)
		}
		return nil
	}), node)
	return firstErr
}

type visitor func(ast.Node) error

func (v visitor) Visit(n ast.Node) ast.Visitor {
	if err := v(n); err != nil {
		return nil
	}
	return v
}

func (s *stub) OutputNames() []string { return s.outputs }
func (s *stub) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{{Kind: "stub", Text: fmt.Sprint(len(s.Templates), " values")}}
}
func (s *stub) Check(context.Context, *steps.Env) steps.Check { return steps.CannotTell("stub") }
func (s *stub) Apply(context.Context, *steps.Env) (steps.Outputs, error) {
	return nil, fmt.Errorf("stub kinds do not run")
}
func (s *stub) Verify(context.Context, *steps.Env) error   { return nil }
func (s *stub) Rollback(context.Context, *steps.Env) error { return nil }
