package redact

import "testing"

func TestRedactor(t *testing.T) {
	r := New()
	r.Add(`p'a"s\s`)
	r.Add("ab")
	r.Add("abcdef")
	tests := []struct{ in, want string }{
		{`password is p'a"s\s here`, "password is •••• here"},
		{`in SQL: 'p''a"s\s'`, "in SQL: '••••'"},
		{`in JSON: "p'a\"s\\s"`, `in JSON: "••••"`},
		{"abcdef and ab", "•••• and ••••"},
		{"nothing secret", "nothing secret"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
	var empty Redactor
	if empty.String("x") != "x" {
		t.Fatal("an empty redactor changed text")
	}
}
