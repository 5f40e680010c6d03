package show

import (
	"fmt"
	"io"
	"reflect"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// writeKind prints a step kind's `with:` fields, read from its decoding struct.
func writeKind(w io.Writer, reg *steps.Registry, name string) error {
	k, ok := reg.Lookup(name)
	if !ok {
		return fmt.Errorf("no step kind %q: kinds are %s", name, strings.Join(reg.Names(), ", "))
	}
	fmt.Fprintf(w, "%s — %s\n\nwith:\n", k.Name, k.Summary)
	writeFields(w, reflect.TypeOf(k.New()), "  ")
	return nil
}

var (
	tmplType = reflect.TypeOf(ref.Template{})
	condT    = reflect.TypeOf(ref.Cond{})
	chooserT = reflect.TypeOf((*steps.Chooser)(nil)).Elem()
)

func writeFields(w io.Writer, t reflect.Type, indent string) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(opts, "inline") || (f.Anonymous && name == "") {
			writeFields(w, f.Type, indent)
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fmt.Fprintf(w, "%s%-22s %s\n", indent, name, typeName(f.Type))
		if ft := deref(f.Type); ft.Kind() == reflect.Struct && ft != tmplType && ft != condT && ft.NumField() > 0 && ft.PkgPath() != "time" {
			writeFields(w, ft, indent+"  ")
		}
	}
}

func deref(t reflect.Type) reflect.Type {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	return t
}

func typeName(t reflect.Type) string {
	switch {
	case t == tmplType:
		return "text (references allowed)"
	case t == condT:
		return "condition"
	case t.Kind() == reflect.Int64 && strings.HasSuffix(t.Name(), "Duration"):
		return "duration (e.g. 2s, 90s, 10m)"
	case t.Implements(chooserT):
		return "one of " + strings.Join(reflect.Zero(t).Interface().(steps.Chooser).Choices(), ", ")
	case t.Kind() == reflect.Pointer:
		return typeName(t.Elem())
	case t.Kind() == reflect.Slice:
		return "list of " + typeName(t.Elem())
	case t.Kind() == reflect.Map:
		return "map of " + typeName(t.Elem())
	case t.Kind() == reflect.Struct:
		return "block"
	}
	return t.Kind().String()
}
