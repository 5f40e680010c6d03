package pgdata

import "testing"

// TestVersionLess orders extension versions as their authors number them.
func TestVersionLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		less bool
	}{
		{"1.9", "1.10", true}, {"1.10", "1.9", false}, {"1.0", "1.0", false},
		{"2.0", "2.0.1", true}, {"2.0.1", "2.0", false},
		{"2.0beta1", "2.0", true}, {"2.0", "2.0beta1", false}, {"2.0beta1", "2.0beta2", true},
		{"3.1.4", "3.2", true}, {"unpackaged", "1.4", true},
	} {
		if got := versionLess(c.a, c.b); got != c.less {
			t.Errorf("versionLess(%q, %q) = %v, want %v", c.a, c.b, got, c.less)
		}
	}
}
