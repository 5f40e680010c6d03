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

// Add registers a secret value (and its common encodings in error text). Short values (under 4
// characters) are still registered: a leak of a short secret is still a leak.
func (x *Redactor) Add(v string) {
	if v == "" {
		return
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	variants := []string{v}
	if q := strings.ReplaceAll(v, `'`, `''`); q != v {
		variants = append(variants, q)
	}
	if q := strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v); q != v {
		variants = append(variants, q)
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
