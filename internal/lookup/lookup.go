// Package lookup lists a parameter's candidates from the target — RDS instances, KMS keys, Secrets
// Manager secrets, a cluster's roles, this host's accounts and PostgreSQL servers — for the
// wizard's form (`choices:` in a runbook). Each candidate carries a short description, and those
// that do not fit the runbook carry the reason instead of being hidden. A lookup only reads; it
// never changes the target, and a failed one is a value (Result.Failed) the form falls back on,
// never an error that stops anything. Non-interactive runs never call it.
package lookup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"time"

	"github.com/aws/smithy-go"

	"github.com/cairn-runbooks/cairn/runbooks"
)

// Timeout bounds one lookup: the form shows "looking up…" at most this long.
const Timeout = 10 * time.Second

// Choice is one candidate.
type Choice struct {
	// Value is what the parameter gets when it is picked.
	Value string
	// Detail describes it in a few words: "postgres 15.18 · db.t3.medium · 20 GiB · unencrypted".
	Detail string
	// NotEligible says why it does not fit ("already encrypted with alias/prod"); empty when it does.
	NotEligible string
}

// Result is what a lookup found.
type Result struct {
	Lookup runbooks.Lookup
	// Choices lists the eligible candidates first, then the others with their reasons.
	Choices []Choice
	// Failed says why nothing could be listed ("cannot reach 127.0.0.1:1: connection refused");
	// empty when the lookup worked (even if it found nothing).
	Failed string
}

// Inputs are the other parameters' values a lookup reads.
type Inputs struct {
	// Region is the runbook's `region` parameter (empty: the AWS configuration chain's).
	Region string
	// Conn is the runbook's `conn` parameter, a libpq connection string (empty: libpq's environment).
	Conn string
}

// InputsOf picks a lookup's inputs from parameter values by name.
func InputsOf(values map[string]string) Inputs {
	return Inputs{Region: values["region"], Conn: values["conn"]}
}

// Run runs lookup l, within Timeout.
func Run(ctx context.Context, l runbooks.Lookup, in Inputs) Result {
	ctx, cancel := context.WithTimeout(ctx, Timeout)
	defer cancel()
	var (
		cs  []Choice
		err error
	)
	switch l {
	case runbooks.LookupRDSInstances, runbooks.LookupRDSUnencrypted:
		cs, err = rdsInstances(ctx, in, l == runbooks.LookupRDSUnencrypted)
	case runbooks.LookupKMSKeys:
		cs, err = kmsKeys(ctx, in)
	case runbooks.LookupSecrets:
		cs, err = secrets(ctx, in)
	case runbooks.LookupPGRoles:
		cs, err = pgRoles(ctx, in)
	case runbooks.LookupOSUsers:
		cs, err = osUsers(ctx)
	case runbooks.LookupPGClusters:
		cs, err = pgClusters()
	default:
		err = fmt.Errorf("no lookup named %q", l)
	}
	if err != nil {
		return Result{Lookup: l, Failed: reason(ctx, err)}
	}
	return Result{Lookup: l, Choices: eligibleFirst(cs)}
}

// eligibleFirst keeps the lookup's own order within the eligible and the other candidates.
func eligibleFirst(cs []Choice) []Choice {
	slices.SortStableFunc(cs, func(a, b Choice) int {
		return cmp.Compare(min(len(a.NotEligible), 1), min(len(b.NotEligible), 1))
	})
	return cs
}

// reason says in one line why a lookup failed: AWS's own code and message, the address that could
// not be reached, or that no answer came in time.
func reason(ctx context.Context, err error) string {
	var ae smithy.APIError
	var oe *net.OpError
	switch {
	case errors.As(err, &ae):
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	case errors.As(err, &oe) && oe.Addr != nil:
		return fmt.Sprintf("cannot reach %s: %v", oe.Addr, oe.Err)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", Timeout)
	}
	return err.Error()
}
