package runbooks

import (
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

var (
	idPattern   = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
	namePattern = regexp.MustCompile(`^[a-z][a-z0-9-]*$`)
)

// Load parses and validates a runbook. file names it in messages. Every problem found is returned
// together as Problems; a runbook with any problem is never returned.
func Load(file string, data []byte, reg *steps.Registry) (*Runbook, error) {
	const schemaFix = "see the runbook schema in README.md (section 'Runbook schema v1')"
	var tree *ast.File
	if err := safely(func() (err error) { tree, err = parser.ParseBytes(data, 0); return err }); err != nil {
		return nil, Problems{problemFromYAML(file, err, schemaFix)}
	}
	if len(tree.Docs) > 1 {
		return nil, Problems{{File: file, Msg: "the file holds more than one YAML document", Fix: "keep one runbook per file (remove the `---` lines)"}}
	}
	rb := &Runbook{}
	var decodeProblems Problems
	if len(tree.Docs) == 1 && tree.Docs[0].Body != nil {
		// The tree the positions come from is parsed again: decoding leaves wrong values out of it.
		work, err := parser.ParseBytes(data, 0)
		if err != nil {
			return nil, Problems{problemFromYAML(file, err, schemaFix)}
		}
		if rb, decodeProblems = decode(file, work.Docs[0].Body, func() *Runbook { return &Runbook{} }, schemaFix); rb == nil {
			return nil, decodeProblems
		}
	}
	rb.Source, rb.Text = file, data
	l := &loader{file: file, rb: rb, reg: reg, tree: tree, problems: decodeProblems}
	l.validate()
	if len(l.problems) > 0 {
		return nil, l.problems
	}
	return rb, nil
}

type loader struct {
	file     string
	rb       *Runbook
	reg      *steps.Registry
	tree     *ast.File
	problems Problems
}

func (l *loader) add(pos ref.Pos, fix, msg string, args ...any) {
	l.problems = append(l.problems, Problem{File: l.file, Pos: pos, Msg: fmt.Sprintf(msg, args...), Fix: fix})
}

// posOf finds the position of a YAML path such as $.steps[2].
func (l *loader) posOf(path string) ref.Pos {
	p, err := yaml.PathString(path)
	if err != nil {
		return ref.Pos{}
	}
	n, err := p.FilterFile(l.tree)
	if err != nil || n == nil {
		return ref.Pos{}
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return ref.Pos{Line: tk.Position.Line, Column: tk.Position.Column}
	}
	return ref.Pos{}
}

func (l *loader) validate() {
	rb := l.rb
	if rb.Schema != SchemaVersion {
		l.add(l.posOf("$.schema"), "put `schema: 1` at the top", "schema is %d; this cairn reads schema %d", rb.Schema, SchemaVersion)
	}
	if !namePattern.MatchString(rb.Name) {
		l.add(l.posOf("$.name"), "use lowercase letters, digits and dashes, e.g. `name: my-runbook`", "name %q is not a valid runbook name", rb.Name)
	}
	if rb.Title == "" {
		l.add(l.posOf("$.name"), "add `title: <one line saying what it does>`", "runbook has no title")
	} else if err := ref.SingleLine("title", rb.Title); err != nil {
		l.add(l.posOf("$.title"), "write the title on one line; the description holds the rest", "%v", err)
	}
	if len(rb.Steps) == 0 {
		l.add(ref.Pos{Line: 1, Column: 1}, "add at least one step under `steps:`", "runbook has no steps")
	}
	params := l.validateParams()
	seen := map[string]int{}
	known := map[string]*StepSpec{}
	rb.Steps = l.dropEmpty(rb.Steps, "steps")
	rb.Cutback = l.dropEmpty(rb.Cutback, "cutback")
	for i, s := range rb.Steps {
		s.pos = l.posOf(fmt.Sprintf("$.steps[%d]", i))
		l.validateStep(s, fmt.Sprintf("$.steps[%d]", i), params, known, seen)
		known[s.ID] = s
	}
	for i, s := range rb.Cutback {
		s.pos = l.posOf(fmt.Sprintf("$.cutback[%d]", i))
		l.validateStep(s, fmt.Sprintf("$.cutback[%d]", i), params, known, seen)
		known[s.ID] = s
	}
	l.validateWindow()
}

// dropEmpty reports empty items in a step list (a bare "-") and leaves them out of the checks.
func (l *loader) dropEmpty(specs []*StepSpec, list string) []*StepSpec {
	out := specs[:0:0]
	for i, s := range specs {
		if s == nil {
			l.add(l.posOf(fmt.Sprintf("$.%s[%d]", list, i)), "write the step as `- id: <id>` with kind and title, or remove the empty item", "%s item %d is empty", list, i+1)
			continue
		}
		out = append(out, s)
	}
	return out
}

func (l *loader) validateParams() map[string]*Param {
	params := map[string]*Param{}
	for i, p := range l.rb.Parameters {
		path := fmt.Sprintf("$.parameters[%d]", i)
		if p == nil {
			l.add(l.posOf(path), "write the parameter as `- name: <name>` with its fields, or remove the empty item", "parameter %d is empty", i+1)
			continue
		}
		p.pos = l.posOf(path)
		if !namePattern.MatchString(p.Name) {
			l.add(p.pos, "use lowercase letters, digits and dashes", "parameter name %q is not valid", p.Name)
		}
		if _, dup := params[p.Name]; dup {
			l.add(p.pos, "rename one of them", "parameter %q is declared twice", p.Name)
		}
		switch p.Type {
		case TString, TInt, TBool, TDuration, TDir:
		case TEnum:
			if len(p.Values) == 0 {
				l.add(p.pos, "list the allowed values under `values:`", "enum parameter %q has no values", p.Name)
			}
		case "":
			p.Type = TString
		default:
			l.add(l.posOf(path+".type"), "use one of string, int, bool, duration, enum, dir", "parameter %q has unknown type %q", p.Name, p.Type)
		}
		if p.Min != nil && p.Type != TInt {
			l.add(l.posOf(path+".min"), "remove `min:`, or make the parameter `type: int`", "parameter %q: min applies to int parameters only", p.Name)
		}
		if p.Pattern != "" {
			if _, err := regexp.Compile(p.Pattern); err != nil {
				l.add(l.posOf(path+".pattern"), "write a Go regular expression", "parameter %q: bad pattern: %v", p.Name, err)
			}
		}
		l.validateChoices(p, path)
		if p.Secret && !p.Default.IsZero() {
			l.add(p.pos, "remove the default; a secret comes from `env:`, a file, a prompt or Secrets Manager", "secret parameter %q has a default", p.Name)
		}
		for _, r := range p.Default.Refs() {
			if r.Scope != ref.Params {
				l.add(l.posOf(path+".default"), "a default may only refer to earlier parameters", "parameter %q: default refers to %s", p.Name, r)
				continue
			}
			if _, ok := params[r.Name]; !ok {
				l.add(l.posOf(path+".default"), "declare "+r.Name+" before "+p.Name+", or fix the name", "parameter %q: default refers to unknown or later parameter %q", p.Name, r.Name)
			}
		}
		if !p.Default.IsZero() && len(p.Default.Refs()) == 0 {
			if err := CheckValue(p, p.Default.Raw); err != nil {
				l.add(l.posOf(path+".default"), "fix the default", "parameter %q: default: %v", p.Name, err)
			}
		}
		params[p.Name] = p
	}
	return params
}

// validateChoices checks a parameter's lookup: a known name, on a plain string parameter.
func (l *loader) validateChoices(p *Param, path string) {
	switch {
	case p.Choices == LookupNone:
	case !p.Choices.Known():
		l.add(l.posOf(path+".choices"), "use one of: "+lookupNames(), "parameter %q: unknown lookup %q in choices", p.Name, p.Choices)
	case p.Secret || p.Type != TString:
		l.add(l.posOf(path+".choices"), "remove `choices:`, or make the parameter a plain (not secret) string", "parameter %q: choices is for string parameters, not a %s one", p.Name, map[bool]string{true: "secret", false: string(p.Type)}[p.Secret])
	}
}

var confirmModes = []Confirm{"", ConfirmNone, ConfirmYes, ConfirmTyped}

func (l *loader) validateStep(s *StepSpec, path string, params map[string]*Param, earlier map[string]*StepSpec, seen map[string]int) {
	if !idPattern.MatchString(s.ID) {
		l.add(s.pos, "give the step an id of lowercase letters, digits and dashes, e.g. `id: create-role`", "step id %q is not valid", s.ID)
	} else if prev, dup := seen[s.ID]; dup {
		l.add(s.pos, "step ids must be unique: rename one", "duplicate step id %q (first declared on line %d)", s.ID, prev)
	}
	seen[s.ID] = s.pos.Line
	if s.Title == "" {
		l.add(s.pos, "add `title:`", "step %q has no title", s.ID)
	} else if err := ref.SingleLine("title", s.Title); err != nil {
		l.add(l.posOf(path+".title"), "write the title on one line; `notes:` hold the rest", "step %q: %v", s.ID, err)
	}
	if !slices.Contains(confirmModes, s.Confirm) {
		l.add(l.posOf(path+".confirm"), "use none, yes or typed", "step %q: unknown confirm %q", s.ID, s.Confirm)
	}
	if s.Confirm == "" {
		s.Confirm = ConfirmNone
		if s.Destructive {
			s.Confirm = ConfirmYes
		}
	}
	if s.Confirm == ConfirmTyped && s.ConfirmWith.IsZero() {
		l.add(s.pos, "add `confirm_value: ${params.instance}` (what the engineer must type)", "step %q: confirm: typed needs confirm_value", s.ID)
	}
	if s.Approvals < 0 {
		l.add(s.pos, "use 0, 1 or more", "step %q: approvals must not be negative", s.ID)
	}
	kind, ok := l.reg.Lookup(s.Kind)
	if !ok {
		l.add(l.posOf(path+".kind"), "use one of: "+strings.Join(l.reg.Names(), ", "), "step %q: unknown kind %q", s.ID, s.Kind)
		return
	}
	st := kind.New()
	if s.With.node != nil {
		dst, ps := decode(l.file, s.With.node, kind.New, "see `cairn show --kind "+s.Kind+"` for its parameters")
		for _, p := range ps {
			p.Msg = fmt.Sprintf("step %q (%s): %s", s.ID, s.Kind, p.Msg)
			l.problems = append(l.problems, p)
		}
		if len(ps) > 0 {
			return
		}
		st = dst
	}
	if v, ok := st.(steps.Validator); ok {
		if err := v.Validate(); err != nil {
			l.add(l.posOf(path+".with"), "", "step %q (%s): %v", s.ID, s.Kind, err)
		}
	}
	s.Step = st
	// References: in with:, when:, foreach:, confirm_value.
	var refs []refAt
	collectRefs(reflect.ValueOf(st), false, &refs)
	for _, r := range s.When.Refs() {
		refs = append(refs, refAt{r, s.When.Pos, false})
	}
	for _, r := range s.Foreach.Refs() {
		refs = append(refs, refAt{r, s.Foreach.Pos, false})
	}
	for _, r := range s.ConfirmWith.Refs() {
		refs = append(refs, refAt{r, s.ConfirmWith.Pos, false})
	}
	for _, ra := range refs {
		l.checkRef(s, ra, params, earlier)
	}
}

type refAt struct {
	r   ref.Ref
	pos ref.Pos
	// argv is true for a reference inside a command line (an `argv:` or `args:` list), which every
	// user of the host can read (ps, /proc/<pid>/cmdline): no secret may go there.
	argv bool
}

func (l *loader) checkRef(s *StepSpec, ra refAt, params map[string]*Param, earlier map[string]*StepSpec) {
	r := ra.r
	pos := ra.pos
	if pos.Line == 0 {
		pos = s.pos
	}
	switch r.Scope {
	case ref.Params:
		p, ok := params[r.Name]
		switch {
		case !ok:
			l.add(pos, "declare it under `parameters:` or fix the name", "step %q: unknown parameter in %s", s.ID, r)
		case p.Secret && ra.argv:
			l.add(pos, "pass it in the command's `env:` (e.g. PGPASSWORD: "+r.String()+") or `stdin:`",
				"step %q: %s is secret and may not be in a command line, which every user of the host can read (ps, /proc/<pid>/cmdline)", s.ID, r)
		}
	case ref.Item:
		if s.Foreach.IsZero() {
			l.add(pos, "${item} is only defined in a step with `foreach:`", "step %q: ${item} used without foreach", s.ID)
		}
	case ref.Steps:
		target, ok := earlier[r.Name]
		if !ok {
			l.add(pos, "a step can only use outputs of steps before it", "step %q: %s refers to an unknown or later step %q", s.ID, r, r.Name)
			return
		}
		names := target.Outputs
		if od, ok := target.Step.(steps.OutputDeclarer); ok {
			names = append(slices.Clone(names), od.OutputNames()...)
		}
		if !slices.Contains(names, r.Output) {
			l.add(pos, fmt.Sprintf("step %q has outputs: %s", target.ID, strings.Join(names, ", ")), "step %q: %s: step %q has no output %q", s.ID, r, target.ID, r.Output)
		}
	}
}

var (
	templateType = reflect.TypeOf(ref.Template{})
	condType     = reflect.TypeOf(ref.Cond{})
)

// collectRefs walks a decoded step for templates and conditions; argv says the value is (inside) a
// field named `argv` or `args`.
func collectRefs(v reflect.Value, argv bool, out *[]refAt) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			collectRefs(v.Elem(), argv, out)
		}
	case reflect.Struct:
		switch v.Type() {
		case templateType:
			t := v.Interface().(ref.Template)
			for _, r := range t.Refs() {
				*out = append(*out, refAt{r, t.Pos, argv})
			}
			return
		case condType:
			c := v.Interface().(ref.Cond)
			for _, r := range c.Refs() {
				*out = append(*out, refAt{r, c.Pos, argv})
			}
			return
		}
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if f.IsExported() {
				name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
				collectRefs(v.Field(i), argv || name == "argv" || name == "args", out)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			collectRefs(v.Index(i), argv, out)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			collectRefs(it.Value(), argv, out)
		}
	}
}

// safely runs a YAML library call, turning a panic inside the library (seen on malformed input found
// by fuzzing) into an error, so bad input is always a message and never a crash.
func safely(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("this YAML cannot be read (the parser failed: %v): check its syntax — indentation, tags (!…) and list items", r)
		}
	}()
	return f()
}
