package pgdata

import "github.com/cairn-runbooks/cairn/steps"

func registerStream(r *steps.Registry) {}
