// Package runbooks holds cairn's runbooks as data — the built-in ones embedded from builtin/*.yaml and
// any file passed with --file — and the loader that validates one completely (kinds, references,
// types, required parameters, ids) before anything runs. Each problem names the file, line and fix.
package runbooks

import (
	"time"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/goccy/go-yaml/ast"
)

// SchemaVersion is the runbook schema this build reads.
const SchemaVersion = 1

// Runbook is a loaded, validated runbook.
type Runbook struct {
	Schema      int         `yaml:"schema"`
	Name        string      `yaml:"name"`
	Title       string      `yaml:"title"`
	Description string      `yaml:"description"`
	Parameters  []*Param    `yaml:"parameters"`
	Steps       []*StepSpec `yaml:"steps"`
	// Cutback steps replace per-step rollback once a step marked point_of_no_return is applied
	// (or, in a runbook that marks none, when the engineer chooses "cut back" after a failure).
	Cutback []*StepSpec `yaml:"cutback"`
	// Window marks the steps that run while the application is stopped (nil: not marked).
	Window *Window `yaml:"window"`

	// Source is "builtin:<name>.yaml" or the file's path.
	Source string `yaml:"-"`
	// Text is the runbook exactly as read; a run keeps a copy so a resume uses the same text.
	Text []byte `yaml:"-"`
}

// ParamType is a parameter's type.
type ParamType string

// Parameter types.
const (
	TString   ParamType = "string"
	TInt      ParamType = "int"
	TBool     ParamType = "bool"
	TDuration ParamType = "duration"
	TEnum     ParamType = "enum"
	// TDir is a directory cairn writes into: an absolute path (a relative one would resolve against
	// wherever cairn is started, so a resume from elsewhere would look elsewhere), not / and not a
	// system or shared directory (/etc, /usr, /var, /tmp, …).
	TDir ParamType = "dir"
)

// Param is one typed parameter.
type Param struct {
	Name     string       `yaml:"name"`
	Type     ParamType    `yaml:"type"`
	Required bool         `yaml:"required"`
	Default  ref.Template `yaml:"default"` // may refer to other parameters: "${params.instance}-enc"
	Pattern  string       `yaml:"pattern"`
	// Min is an int parameter's least value.
	Min    *int64   `yaml:"min"`
	Values []string `yaml:"values"` // enum
	Secret bool     `yaml:"secret"`
	// Env names the environment variable a secret is read from (secrets never come from flags).
	Env  string `yaml:"env"`
	Help string `yaml:"help"`
	// Choices names the lookup whose candidates the form offers (a string parameter's only).
	Choices Lookup `yaml:"choices"`

	pos ref.Pos
}

// Pos is where the parameter was declared.
func (p *Param) Pos() ref.Pos { return p.pos }

// Confirm says how a step is confirmed before it applies.
type Confirm string

// Confirmation modes.
const (
	ConfirmNone  Confirm = "none"
	ConfirmYes   Confirm = "yes"
	ConfirmTyped Confirm = "typed"
)

// StepSpec is one step as the runbook declares it, with its decoded kind.
type StepSpec struct {
	ID          string       `yaml:"id"`
	Kind        string       `yaml:"kind"`
	Title       string       `yaml:"title"`
	Notes       string       `yaml:"notes"`
	With        rawNode      `yaml:"with"`
	When        ref.Cond     `yaml:"when"`
	Foreach     ref.Template `yaml:"foreach"`
	Confirm     Confirm      `yaml:"confirm"`
	ConfirmWith ref.Template `yaml:"confirm_value"` // the value to type for confirm: typed
	Destructive bool         `yaml:"destructive"`
	AllowSkip   bool         `yaml:"allow_skip"`
	// PointOfNoReturn: once this step is applied, undoing the run step by step cannot bring back
	// what it changed (the source deleted, renamed away, written to elsewhere): a failure offers
	// the runbook's cut-back instead, and `cairn rollback` runs it.
	PointOfNoReturn bool     `yaml:"point_of_no_return"`
	Approvals       int      `yaml:"approvals"`
	Timeout         Duration `yaml:"timeout"`
	// Outputs declares output names for kinds whose outputs are not fixed (e.g. sql capture).
	Outputs []string `yaml:"outputs"`

	// Step is the decoded step of its kind.
	Step steps.Step `yaml:"-"`
	pos  ref.Pos
}

// MarksNoReturn reports whether any step of the runbook is marked point_of_no_return.
func (rb *Runbook) MarksNoReturn() bool {
	for _, s := range rb.Steps {
		if s.PointOfNoReturn {
			return true
		}
	}
	return false
}

// Pos is where the step was declared.
func (s *StepSpec) Pos() ref.Pos { return s.pos }

// rawNode keeps a YAML node for a kind to decode later.
type rawNode struct{ node ast.Node }

// UnmarshalYAML keeps the node.
func (r *rawNode) UnmarshalYAML(n ast.Node) error { r.node = n; return nil }

// Duration is a time.Duration written as "10m".
type Duration time.Duration

// UnmarshalYAML reads a Go duration string ("10m"), never a negative one.
func (d *Duration) UnmarshalYAML(n ast.Node) error {
	var s string
	switch v := n.(type) {
	case *ast.NullNode:
		return nil
	case *ast.StringNode:
		s = v.Value
	default:
		s = n.GetToken().Value
	}
	v, err := parseDuration(s)
	if err != nil {
		return &valueError{tk: n.GetToken(), msg: err.Error()}
	}
	*d = Duration(v)
	return nil
}

// Std converts to time.Duration.
func (d Duration) Std() time.Duration { return time.Duration(d) }
