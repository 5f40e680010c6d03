package steps_test

import (
	"errors"
	"testing"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// A field bound to an optional parameter that was not given reads as empty (a flag as false);
// any other missing or not-yet-known value stays an error, and a flag that is neither yes nor no
// is refused rather than read as no.
func TestOptionalTextAndFlag(t *testing.T) {
	env := &steps.Env{Lookup: func(r ref.Ref) (ref.Value, bool) {
		switch r.Scope {
		case ref.Params:
			v, ok := map[string]string{"on": "Yes", "bad": "maybe"}[r.Name]
			return ref.Value{S: v}, ok
		case ref.Steps:
			return ref.Value{Unknown: true}, true
		}
		return ref.Value{}, false
	}}
	if s, err := env.OptionalText(ref.MustParse("${params.missing}")); s != "" || err != nil {
		t.Fatalf("an optional parameter not given: %q %v, want empty", s, err)
	}
	if _, err := env.OptionalText(ref.MustParse("${params.missing}-${params.on}")); !errors.Is(err, ref.ErrNoValue) {
		t.Fatalf("a missing parameter beside another: %v, want ErrNoValue", err)
	}
	if _, err := env.Text(ref.MustParse("${params.missing}")); !errors.Is(err, ref.ErrNoValue) {
		t.Fatalf("Text of a missing parameter: %v, want ErrNoValue", err)
	}
	for _, c := range []struct {
		raw  string
		want bool
		err  bool
	}{
		{"${params.on}", true, false},
		{"${params.missing}", false, false},
		{"", false, false},
		{"off", false, false},
		{"${params.bad}", false, true},
		{"${steps.a.flag}", false, true},
	} {
		var tmpl ref.Template
		if c.raw != "" {
			tmpl = ref.MustParse(c.raw)
		}
		got, err := env.Flag(tmpl)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("Flag(%q) = %v, %v; want %v (error %v)", c.raw, got, err, c.want, c.err)
		}
	}
}
