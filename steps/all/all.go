// Package all builds the registry of every step kind cairn ships.
package all

import (
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
	"github.com/cairn-runbooks/cairn/steps/dblink"
	"github.com/cairn-runbooks/cairn/steps/generic"
	"github.com/cairn-runbooks/cairn/steps/host"
	lambdastep "github.com/cairn-runbooks/cairn/steps/lambda"
	"github.com/cairn-runbooks/cairn/steps/pg"
	"github.com/cairn-runbooks/cairn/steps/pgbackrest"
	"github.com/cairn-runbooks/cairn/steps/pgdata"
	"github.com/cairn-runbooks/cairn/steps/sshsteps"
)

// Registry returns a registry with every built-in kind.
func Registry() *steps.Registry {
	r := steps.NewRegistry()
	pg.Register(r)
	generic.Register(r)
	host.Register(r)
	pgbackrest.Register(r)
	sshsteps.Register(r)
	host.RegisterCron(r)
	awsstep.Register(r)
	pgdata.Register(r)
	lambdastep.Register(r)
	dblink.Register(r)
	return r
}
