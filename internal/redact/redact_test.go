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

// A multi-line secret is masked whole, line by line (as it is and re-indented), and JSON-escaped;
// its short lines ("}") are left alone.
func TestRedactorMultiLineSecret(t *testing.T) {
	key := "-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAA\n  QyNTUxOQAAACBsZWFrZWQ=\n}\n-----END OPENSSH PRIVATE KEY-----\n"
	r := New()
	r.Add(key)
	tests := []struct{ in, want string }{
		{"whole: " + key, "whole: ••••"},
		{"ssh: line 2: b3BlbnNzaC1rZXktdjEAAAAA: invalid format", "ssh: line 2: ••••: invalid format"},
		{"indented:\n    QyNTUxOQAAACBsZWFrZWQ=\n", "indented:\n  ••••\n"}, // the line as written, with its two blanks, is masked
		{`{"key": "-----BEGIN OPENSSH PRIVATE KEY-----\r\nb3BlbnNzaC1rZXktdjEAAAAA\n  QyNTUxOQAAACBsZWFrZWQ=\n}\n-----END OPENSSH PRIVATE KEY-----\n"}`, `{"key": "••••"}`},
		{"a brace } stays", "a brace } stays"},
	}
	for _, tt := range tests {
		if got := r.String(tt.in); got != tt.want {
			t.Errorf("String(%q) =\n%q, want\n%q", tt.in, got, tt.want)
		}
	}
}
