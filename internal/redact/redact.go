// Package redact removes known secret values from text before it is shown, logged or journaled.
package redact

import (
	"sort"
	"strings"
	"sync"
)

// Mask is what a secret is replaced with.
const Mask = "••••"

// Redactor holds the secret values of one run. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	secrets []string
	r       *strings.Replacer
}

// New returns an empty redactor.
func New() *Redactor { return &Redactor{} }

// minLineLen is the shortest line of a multi-line secret that is masked on its own: a line such as
// "}" of a JSON key file or "-----" is no secret by itself, and masking it would mask every brace.
const minLineLen = 4

// Add registers a secret value (and its common encodings in error text). Short values (under 4
// characters) are still registered: a leak of a short secret is still a leak. A multi-line secret
// (a private key, a JSON credentials file) is also registered line by line, each line as it is and
// without its surrounding blanks, so that output quoting one line of it, or the whole re-indented,
// shows no part of it; lines shorter than minLineLen are left out.
func (x *Redactor) Add(v string) {
	if v == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	variants := encodings(v)
	if strings.ContainsAny(v, "\r\n") {
		for _, l := range strings.FieldsFunc(v, func(r rune) bool { return r == '\n' || r == '\r' }) {
			for _, l := range []string{l, strings.TrimSpace(l)} {
				if len([]rune(l)) >= minLineLen {
					variants = append(variants, encodings(l)...)
				}
			}
		}
	}
	for _, s := range variants {
		dup := false
		for _, e := range x.secrets {
			if e == s {
				dup = true
			}
		}
		if !dup {
			x.secrets = append(x.secrets, s)
		}
	}
	// longest first, so a secret containing another is masked whole
	sort.Slice(x.secrets, func(i, j int) bool { return len(x.secrets[i]) > len(x.secrets[j]) })
	pairs := make([]string, 0, 2*len(x.secrets))
	for _, s := range x.secrets {
		pairs = append(pairs, s, Mask)
	}
	x.r = strings.NewReplacer(pairs...)
}

// String redacts a string.
func (x *Redactor) String(s string) string {
	x.mu.RLock()
	defer x.mu.RUnlock()
	if x.r == nil {
		return s
	}
	return x.r.Replace(s)
}

// encodings are v and the forms error text and JSON give it: SQL-quoted, and backslash-escaped
// (with line breaks and tabs as \n, \r, \t).
func encodings(v string) []string {
	out := []string{v}
	if q := strings.ReplaceAll(v, `'`, `''`); q != v {
		out = append(out, q)
	}
	if q := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(v); q != v {
		out = append(out, q)
	}
	return out
}
