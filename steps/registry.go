package steps

import (
	"fmt"
	"sort"
)

// Factory makes an empty step of one kind, ready to have its `with:` block decoded into it
// (it must return a pointer to a struct with yaml tags).
type Factory func() Step

// KindInfo describes a registered kind.
type KindInfo struct {
	Name    string
	Summary string
	New     Factory
}

// Registry maps kind names to factories. It is built once at start-up and passed where needed;
// there is no package-level registry.
type Registry struct {
	kinds map[string]KindInfo
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{kinds: map[string]KindInfo{}} }

// Register adds a kind; registering a name twice is a programming error.
func (r *Registry) Register(name, summary string, f Factory) {
	if _, dup := r.kinds[name]; dup {
		panic(fmt.Sprintf("steps: kind %q registered twice", name))
	}
	r.kinds[name] = KindInfo{Name: name, Summary: summary, New: f}
}

// Lookup finds a kind.
func (r *Registry) Lookup(name string) (KindInfo, bool) {
	k, ok := r.kinds[name]
	return k, ok
}

// Names lists the registered kinds, sorted.
func (r *Registry) Names() []string {
	out := make([]string, 0, len(r.kinds))
	for n := range r.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}
