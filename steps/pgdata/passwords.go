package pgdata

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/cairn-runbooks/cairn/steps/awsstep"
)

// On RDS the master cannot read pg_authid, so the globals are dumped without passwords and a new
// instance's login roles have none unless passwords-secret gives them. A login role left without
// one locks its application out at the swap, so the preflights refuse the run before anything
// changes, and the globals restore fails rather than warn.

// passwordlessAuth are the RDS roles whose members log in without a password: rds_iam (IAM
// database authentication) and rds_ad (Kerberos).
var passwordlessAuth = []string{"rds_iam", "rds_ad"}

// readPasswords reads passwords-secret ({"role": "password"}) in region; an empty secret gives none.
func readPasswords(ctx context.Context, env *steps.Env, region, secret ref.Template) (map[string]string, error) {
	id, err := env.OptionalText(secret)
	if err != nil || id == "" {
		return nil, err
	}
	r, err := env.OptionalText(region)
	if err != nil {
		return nil, err
	}
	c, err := awsstep.NewClients(ctx, env, r)
	if err != nil {
		return nil, err
	}
	return c.RolePasswords(ctx, env, id)
}

// loginRolesWithoutPassword lists, of the login roles c's server has (among only, when given), those
// a new instance would leave without a password: not the connected master, not RDS's own roles, not
// members of rds_iam or rds_ad, and not in covered.
func loginRolesWithoutPassword(ctx context.Context, c *pgx.Conn, only []string, covered map[string]string) ([]string, error) {
	all, err := names(ctx, c, `SELECT r.rolname FROM pg_roles r
		WHERE r.rolcanlogin AND r.rolname <> current_user
		  AND NOT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid WHERE m.member = r.oid AND g.rolname = ANY($1))
		ORDER BY 1`, passwordlessAuth)
	if err != nil {
		return nil, fmt.Errorf("list login roles: %w", err)
	}
	var out []string
	for _, r := range all {
		if _, ok := covered[r]; ok || rdsOwned(r) || only != nil && !slices.Contains(only, r) {
			continue
		}
		out = append(out, r)
	}
	return out, nil
}

// passwordProblem is the refusal for login roles a new instance would leave without a password.
func passwordProblem(roles []string, secret string) (problem, fix string) {
	problem = fmt.Sprintf("login roles %s would have no password on the new instance (pg_dumpall cannot read passwords on RDS): their applications could not log in after the swap", strings.Join(roles, ", "))
	example := make([]string, 0, len(roles))
	for _, r := range roles {
		example = append(example, fmt.Sprintf("%q: \"<password>\"", r))
	}
	if secret == "" {
		fix = "-p passwords-secret=<secret> holding {" + strings.Join(example, ", ") + "}"
	} else {
		fix = "add " + strings.Join(roles, ", ") + " to passwords-secret " + secret + " ({" + strings.Join(example, ", ") + "})"
	}
	fix += "; a role that should not log in: ALTER ROLE … NOLOGIN on the source, or give it a new random password in the secret; IAM users: GRANT rds_iam TO the role"
	return problem, fix
}

// passwordFindings checks, on the source c, that every login role gets a password on the new
// instance; it returns the refusal and its fix ("" when none).
func passwordFindings(ctx context.Context, env *steps.Env, c *pgx.Conn, region, secret ref.Template) (problem, fix string, err error) {
	pw, err := readPasswords(ctx, env, region, secret)
	if d, ok := awsstep.SecretFinding(err); ok {
		return d.Summary, d.Next, nil
	}
	if err != nil {
		return "", "", err
	}
	roles, err := loginRolesWithoutPassword(ctx, c, nil, pw)
	if err != nil || len(roles) == 0 {
		return "", "", err
	}
	id, _ := env.OptionalText(secret)
	problem, fix = passwordProblem(roles, id)
	return problem, fix, nil
}

// passwordsAction describes the preflights' password check.
func passwordsAction(env *steps.Env, src Server, secret ref.Template) steps.Action {
	text := "SELECT rolname FROM pg_roles WHERE rolcanlogin AND rolname <> current_user AND <not RDS's, not in rds_iam or rds_ad>   -- each needs a password"
	if s := env.Describe(secret); s != "" {
		text += " in passwords-secret " + s
	} else {
		text += ": none is given (passwords-secret), so any is refused"
	}
	return steps.Action{Kind: steps.ActSQL, Target: src.describe(env), Text: text}
}

// loginFails lists the roles of pw (among roles) that cannot log in on tgt with their password
// from the secret: each is tried as an application would, and a password refused (28P01) or a role
// not allowed to log in (28000) counts; a role allowed in but refused the database is in.
func loginFails(ctx context.Context, tgt dsn, roles []string, pw map[string]string) ([]string, error) {
	var out []string
	for _, r := range roles {
		p, ok := pw[r]
		if !ok {
			continue
		}
		as := tgt
		as.User, as.Password, as.Label = r, p, tgt.Label+" as "+r
		c, err := as.connect(ctx, "")
		switch {
		case err == nil:
			c.Close(context.WithoutCancel(ctx))
		case hasSQLState(err, "28P01", "28000"):
			out = append(out, r)
		case hasSQLState(err, "42501", "3D000"): // authenticated, then refused the database
		default:
			return nil, fmt.Errorf("log in as %s: %w", r, err)
		}
	}
	return out, nil
}
