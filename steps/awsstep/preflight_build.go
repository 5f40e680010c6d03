package awsstep

import (
	"context"
	"fmt"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/diag"
	"github.com/cairn-runbooks/cairn/steps"
)

// buildFindings judges the identifier the encrypted instance is built under (the build-id) when it
// is not the source's own (keep-identifier): the target must be another identifier than the
// source's — RDS identifiers are case-insensitive, so APP-DB is app-db — and must not name an
// instance this run did not make. Either would only show inside the window (the restore finds the
// source under the name, the application already locked out), so both are refused here, before
// anything changes.
func (p *Preflight) buildFindings(ctx context.Context, env *steps.Env, c *Clients, source string) ([]diag.Diagnostic, error) {
	rv := resolving(env)
	keep, target := rv.flag(p.KeepIdentifier), rv.text(p.Target)
	if err := rv.err; err != nil || keep || target == "" {
		return nil, err
	}
	if strings.EqualFold(target, source) {
		return []diag.Diagnostic{finding(fmt.Sprintf("target %s is the instance itself (%s): the encrypted copy needs an identifier of its own until the swap", target, source),
			"pass another -p target=… (the default is "+source+"-enc), or leave target out")}, nil
	}
	inst, taken, err := c.Instance(ctx, target)
	if err != nil || !taken {
		return nil, err
	}
	if ours, why := instanceIsOurs(env, inst); !ours {
		return []diag.Diagnostic{finding(fmt.Sprintf("target identifier %s is taken: %s", target, why),
			"pass another -p target=…; "+fixForeignInstance(target))}, nil
	}
	return nil, nil
}

// isTarget says whether name is the target identifier the encrypted instance is built under,
// which buildFindings judges.
func (p *Preflight) isTarget(env *steps.Env, name string) bool {
	rv := resolving(env)
	keep, target := rv.flag(p.KeepIdentifier), rv.text(p.Target)
	return rv.err == nil && !keep && target != "" && strings.EqualFold(target, name)
}
