// Package all builds the registry of every step kind cairn ships.
package all

import (
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/generic"
	"github.com/cairn-runbooks/cairn/steps/pg"
)

// Registry returns a registry with every built-in kind.
func Registry() *steps.Registry {
	r := steps.NewRegistry()
	pg.Register(r)
	generic.Register(r)
	return r
}
