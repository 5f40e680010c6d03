package runbooks

import (
	"reflect"
	"strconv"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
)

// Names are the things a step's `with:` block names once its parameters are known — instance,
// snapshot and secret identifiers, paths, hosts — as a plan sees them. Values that name nothing of
// their own are left out: empty ones, booleans, numbers, those known only after an earlier step, and
// the `region` every AWS step shares. Two steps naming the same thing may act on the same thing: a
// plan uses this to tell which later checks an earlier step's work can change.
func (s *StepSpec) Names(look ref.Lookup) []string {
	var out []string
	walkTemplates(reflect.ValueOf(s.Step), "", func(field string, t ref.Template) {
		if field == "region" {
			return
		}
		v, err := t.Text(look)
		if err != nil || v == "" || v == "<each item>" {
			return
		}
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			return
		}
		if _, err := ref.ParseBool(v); err == nil {
			return
		}
		out = append(out, v)
	})
	return out
}

// StepRefs are the ids of the earlier steps whose outputs the step uses (in with:, when:, foreach:
// or confirm_value), each once.
func (s *StepSpec) StepRefs() []string {
	var refs []ref.Ref
	walkTemplates(reflect.ValueOf(s.Step), "", func(_ string, t ref.Template) { refs = append(refs, t.Refs()...) })
	refs = append(refs, s.When.Refs()...)
	refs = append(refs, s.Foreach.Refs()...)
	refs = append(refs, s.ConfirmWith.Refs()...)
	var ids []string
	seen := map[string]bool{}
	for _, r := range refs {
		if r.Scope == ref.Steps && !seen[r.Name] {
			seen[r.Name] = true
			ids = append(ids, r.Name)
		}
	}
	return ids
}

// walkTemplates calls f with every template of a decoded step and the YAML name of the field
// holding it (a list or map entry keeps its field's name).
func walkTemplates(v reflect.Value, field string, f func(field string, t ref.Template)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkTemplates(v.Elem(), field, f)
		}
	case reflect.Struct:
		if v.Type() == templateType {
			f(field, v.Interface().(ref.Template))
			return
		}
		if v.Type() == condType {
			return
		}
		for i := 0; i < v.NumField(); i++ {
			if sf := v.Type().Field(i); sf.IsExported() {
				name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
				walkTemplates(v.Field(i), name, f)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkTemplates(v.Index(i), field, f)
		}
	case reflect.Map:
		it := v.MapRange()
		for it.Next() {
			walkTemplates(it.Value(), field, f)
		}
	}
}
