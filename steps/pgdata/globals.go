package pgdata

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"

	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/proc"
	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// GlobalsDump is the `pg-globals-dump` kind: `pg_dumpall --globals-only --no-role-passwords` as the
// master user (plain pg_dumpall reads pg_authid and fails on RDS, as the seed found), filtered to
// what the master of a new instance can replay: RDS-owned roles (rdsadmin, rds_*, pg_*) and the
// master itself are left out, NOSUPERUSER/NOREPLICATION/NOBYPASSRLS (which a non-superuser may not
// even state) dropped, GRANTED BY removed, tablespaces skipped. Every skipped statement stays in the
// file as a comment, and the role list is shown for review.
type GlobalsDump struct {
	Source Server       `yaml:"source"`
	File   ref.Template `yaml:"file"`
}

// OutputNames declares the outputs.
func (g *GlobalsDump) OutputNames() []string { return []string{"file", "roles"} }

// Validate checks the parameters.
func (g *GlobalsDump) Validate() error {
	if g.File.IsZero() {
		return fmt.Errorf("give `file:`")
	}
	return nil
}

// Describe lists the command.
func (g *GlobalsDump) Describe(env *steps.Env) []steps.Action {
	return []steps.Action{
		{Kind: steps.ActExec, Target: g.Source.describe(env), Text: "pg_dumpall --globals-only --no-role-passwords -d postgres   (PGPASSWORD in the environment)"},
		{Kind: steps.ActSQL, Target: g.Source.describe(env), Text: provenanceSQL},
		{Kind: steps.ActFile, Target: "local", Text: env.Describe(g.File) + "   (filtered: RDS roles, the master, superuser-only clauses, GRANTED BY, tablespaces; mode 0600; its first line records the source's identity and this run's id — a file there of another source or run is refused, never used or overwritten)"},
	}
}

const globalsEnd = "-- cairn: end of globals"

// globalsProvenance is the first line of a globals file: where and when it was taken, by which run.
const globalsProvenance = "-- cairn: provenance "

// provenanceOf reads a globals file's provenance line (nil when it has none).
func provenanceOf(text string) *Provenance {
	first, _, _ := strings.Cut(text, "\n")
	js, ok := strings.CutPrefix(first, globalsProvenance)
	if !ok {
		return nil
	}
	var p Provenance
	if json.Unmarshal([]byte(js), &p) != nil {
		return nil
	}
	return &p
}

// Check says whether the filtered globals file of the source as it is now, taken by this run, is
// complete. Another source's or another run's file at the path is Blocked: never taken for this
// run's, never overwritten.
func (g *GlobalsDump) Check(ctx context.Context, env *steps.Env) steps.Check {
	f, err := env.Text(g.File)
	if err != nil {
		return unknownOr(err, "")
	}
	b, err := os.ReadFile(f)
	if os.IsNotExist(err) {
		return steps.ReadyTo(steps.Create, "dump the roles of %s into %s", g.Source.describe(env), f)
	}
	if err != nil {
		return steps.BlockedBy(err.Error(), "make the globals file readable, or give another dump-dir")
	}
	live, err := g.identify(ctx, env)
	if err != nil {
		return unknownOr(err, "check the source's connection and credentials")
	}
	v, reason := judgeProvenance("the globals file "+f, provenanceOf(string(b)), live, env.RunID, "")
	if ch, ok := provenanceCheck(v, reason, f, steps.Replace); !ok {
		return ch
	}
	if !strings.Contains(string(b), globalsEnd) {
		return steps.ReadyTo(steps.Replace, "%s is this run's but incomplete → dump the roles again", f)
	}
	return steps.AlreadyDone("globals of %s are in %s (%s)", live.Label, f, reason)
}

func (g *GlobalsDump) identify(ctx context.Context, env *steps.Env) (Identity, error) {
	src, err := g.Source.resolve(ctx, env)
	if err != nil {
		return Identity{}, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return Identity{}, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	return src.identify(ctx, c)
}

// Apply dumps and filters.
func (g *GlobalsDump) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	f, err := env.Text(g.File)
	if err != nil {
		return nil, err
	}
	src, err := g.Source.resolve(ctx, env)
	if err != nil {
		return nil, err
	}
	c, err := src.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	var master string
	err = c.QueryRow(ctx, "SELECT current_user").Scan(&master)
	var live Identity
	if err == nil {
		live, err = src.identify(ctx, c)
	}
	c.Close(context.WithoutCancel(ctx))
	if err != nil {
		return nil, err
	}
	if b, err := os.ReadFile(f); err == nil {
		if v, reason := judgeProvenance("the globals file "+f, provenanceOf(string(b)), live, env.RunID, ""); v == provForeign {
			return nil, foreign(reason, moveAside(f))
		}
	}
	prov := Provenance{RunID: env.RunID, Source: live, Taken: now(env)}
	res, err := proc.Run(ctx, env, proc.Cmd{Argv: []string{"pg_dumpall", "--globals-only", "--no-role-passwords", "-d", src.dbArg("postgres")}, Env: src.environ(env.Environ, ""), Quiet: true})
	if err != nil {
		return nil, fmt.Errorf("pg_dumpall --globals-only: %w", err)
	}
	text, roles, skipped := FilterGlobals(res.Stdout, master)
	if err := os.MkdirAll(filepath.Dir(f), 0o700); err != nil {
		return nil, err
	}
	pj, err := json.Marshal(prov)
	if err != nil {
		return nil, err
	}
	if err := writeDurable(filepath.Dir(f), filepath.Base(f), []byte(globalsProvenance+string(pj)+"\n"+text+"\n"+globalsEnd+"\n")); err != nil {
		return nil, err
	}
	env.Info(fmt.Sprintf("roles of %s to recreate (%d), for review: %s", live, len(roles), strings.Join(roles, ", ")))
	for _, s := range skipped {
		env.Info("left out: " + s)
	}
	return steps.Outputs{}.Set("file", f).Set("roles", strings.Join(roles, ",")), nil
}

// Observe reads the outputs from the file.
func (g *GlobalsDump) Observe(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	f, err := env.Text(g.File)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, err
	}
	return steps.Outputs{}.Set("file", f).Set("roles", strings.Join(rolesIn(string(b)), ",")), nil
}

// Verify proves the file is complete.
func (g *GlobalsDump) Verify(ctx context.Context, env *steps.Env) error {
	if ch := g.Check(ctx, env); ch.State != steps.Done {
		return &steps.VerifyError{What: "globals file", Expected: "complete", Found: ch.Reason}
	}
	return nil
}

// Rollback removes the file.
func (g *GlobalsDump) Rollback(ctx context.Context, env *steps.Env) error {
	f, err := env.Text(g.File)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(f)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if p := provenanceOf(string(b)); p == nil || p.RunID != env.RunID {
		return fmt.Errorf("the globals file %s is not this run's (%s): not removed", f, orDefault(provenanceRun(p), "no record of its run"))
	}
	return os.Remove(f)
}

var (
	createRoleRE = regexp.MustCompile(`^CREATE ROLE ("(?:[^"]|"")+"|[^ ;]+);$`)
	alterRoleRE  = regexp.MustCompile(`^ALTER ROLE ("(?:[^"]|"")+"|[^ ;]+) (WITH .*|SET .*|IN DATABASE .*|RESET .*)$`)
	grantRE      = regexp.MustCompile(`^GRANT ("(?:[^"]|"")+"|[^ ]+) TO ("(?:[^"]|"")+"|[^ ]+)(.*);$`)
	grantedByRE  = regexp.MustCompile(` GRANTED BY ("(?:[^"]|"")+"|[^ ;]+)`)
	commentRE    = regexp.MustCompile(`^(?:COMMENT ON ROLE|SECURITY LABEL FOR \S+ ON ROLE) ("(?:[^"]|"")+"|[^ ]+) `)
)

func roleName(s string) string {
	if strings.HasPrefix(s, `"`) {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// rdsOwned reports whether a role belongs to RDS (or PostgreSQL) rather than to the application.
func rdsOwned(r string) bool {
	return r == "rdsadmin" || strings.HasPrefix(r, "rds_") || strings.HasPrefix(r, "rdsrepl") || strings.HasPrefix(r, "rdstopmgr") || strings.HasPrefix(r, "pg_")
}

// FilterGlobals keeps what a non-superuser master can replay; it returns the filtered text, the
// roles it creates, and a line for each statement left out (which also stays as a comment).
func FilterGlobals(dump, master string) (string, []string, []string) {
	var out, roles, skipped []string
	skip := func(line, why string) {
		out = append(out, "-- cairn: left out ("+why+"): "+line)
		skipped = append(skipped, why+": "+line)
	}
	for _, line := range strings.Split(dump, "\n") {
		t := strings.TrimSpace(line)
		switch {
		case t == "" || strings.HasPrefix(t, "--") || strings.HasPrefix(t, "SET ") || strings.HasPrefix(t, "\\"):
			out = append(out, line)
		case createRoleRE.MatchString(t):
			r := roleName(createRoleRE.FindStringSubmatch(t)[1])
			switch {
			case rdsOwned(r):
				skip(t, "RDS-owned role")
			case r == master:
				skip(t, "the master user exists on the new instance")
			default:
				out = append(out, t)
				roles = append(roles, r)
			}
		case alterRoleRE.MatchString(t):
			m := alterRoleRE.FindStringSubmatch(t)
			r := roleName(m[1])
			switch {
			case rdsOwned(r):
				skip(t, "RDS-owned role")
			case r == master && strings.HasPrefix(m[2], "WITH "):
				skip(t, "the master's attributes are RDS's")
			case strings.HasPrefix(m[2], "WITH "):
				attrs := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(m[2], "WITH "), ";"))
				var keep []string
				bad := ""
				for _, a := range attrs {
					switch a {
					case "NOSUPERUSER", "NOREPLICATION", "NOBYPASSRLS":
					case "SUPERUSER", "REPLICATION", "BYPASSRLS":
						bad = a
					default:
						keep = append(keep, a)
					}
				}
				if bad != "" {
					skip(t, bad+" cannot be granted by a non-superuser (RDS has no superuser)")
					continue
				}
				out = append(out, "ALTER ROLE "+m[1]+" WITH "+strings.Join(keep, " ")+";")
			default:
				out = append(out, t)
			}
		case grantRE.MatchString(t):
			m := grantRE.FindStringSubmatch(t)
			if slices.Contains(passwordlessAuth, roleName(m[1])) && !rdsOwned(roleName(m[2])) && roleName(m[2]) != master {
				// IAM or Kerberos login: the master (rds_superuser) grants it, as on the source
				out = append(out, grantedByRE.ReplaceAllString(t, ""))
				continue
			}
			if rdsOwned(roleName(m[1])) || rdsOwned(roleName(m[2])) {
				skip(t, "membership involving an RDS-owned role")
				continue
			}
			out = append(out, grantedByRE.ReplaceAllString(t, ""))
		case commentRE.MatchString(t):
			if rdsOwned(roleName(commentRE.FindStringSubmatch(t)[1])) {
				skip(t, "RDS-owned role")
				continue
			}
			out = append(out, t)
		case strings.HasPrefix(t, "CREATE TABLESPACE") || strings.HasPrefix(t, "ALTER TABLESPACE") || strings.HasPrefix(t, "GRANT ALL ON TABLESPACE"):
			skip(t, "tablespaces are not available on RDS")
		default:
			out = append(out, t)
		}
	}
	return strings.Join(out, "\n"), roles, skipped
}

// rolesIn lists the roles a filtered globals file creates.
func rolesIn(text string) []string {
	var roles []string
	for _, line := range strings.Split(text, "\n") {
		if m := createRoleRE.FindStringSubmatch(strings.TrimSpace(line)); m != nil {
			roles = append(roles, roleName(m[1]))
		}
	}
	return roles
}

// GlobalsRestore is the `pg-globals-restore` kind: the filtered globals replayed on the target in a
// single transaction that stops at the first error (`psql -1 -v ON_ERROR_STOP=1`) — before any
// database is restored, which is what spares the seed's `must be owner of extension` failures.
// Passwords cannot be dumped: with PasswordsSecret (a Secrets Manager secret holding
// {"role": "password"}) they are set as SCRAM verifiers; a login role left without one (not in
// rds_iam or rds_ad) fails the step: its application could not log in after the swap.
type GlobalsRestore struct {
	Target          Server       `yaml:"target"`
	File            ref.Template `yaml:"file"`
	PasswordsSecret ref.Template `yaml:"passwords-secret"`
	// SourceID is the source the file must have been taken from (its DbiResourceId, or a server's
	// system identifier); the file must also be this run's.
	SourceID ref.Template `yaml:"source-id"`
	// CreatedInstance is the DbiResourceId of the target when this run created it (the create
	// step's resource-id), whose rollback deletes it: a role the rollback cannot drop (it still owns
	// objects there) is left to that delete, and an instance proved deleted took its roles with it.
	CreatedInstance ref.Template `yaml:"created-instance"`
}

// Validate checks the parameters.
func (g *GlobalsRestore) Validate() error {
	if g.File.IsZero() {
		return fmt.Errorf("give `file:`")
	}
	return nil
}

// Describe lists the command.
func (g *GlobalsRestore) Describe(env *steps.Env) []steps.Action {
	acts := []steps.Action{{Kind: steps.ActExec, Target: g.Target.describe(env), Text: "psql -X --single-transaction -v ON_ERROR_STOP=1 -d postgres -f " + env.Describe(g.File) + "   (only a file this run took" + sourceWords(env, g.SourceID) + ")"}}
	if s := env.Describe(g.PasswordsSecret); s != "" {
		acts = append(acts, steps.Action{Kind: steps.ActSQL, Target: g.Target.describe(env), Text: "ALTER ROLE <role> PASSWORD '<SCRAM verifier>'   -- for each role in secret " + s})
	}
	return acts
}

func (g *GlobalsRestore) missing(ctx context.Context, env *steps.Env) (dsn, []string, []string, error) {
	f, err := env.Text(g.File)
	if err != nil {
		return dsn{}, nil, nil, err
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return dsn{}, nil, nil, fmt.Errorf("globals file: %w", err)
	}
	sid, err := env.OptionalText(g.SourceID)
	if err != nil {
		return dsn{}, nil, nil, err
	}
	if err := boundTo("the globals file "+f, f, provenanceOf(string(b)), env.RunID, sid); err != nil {
		return dsn{}, nil, nil, err
	}
	roles := rolesIn(string(b))
	tgt, err := g.Target.resolve(ctx, env)
	if err != nil {
		return tgt, roles, nil, err
	}
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return tgt, roles, nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	want := roleAttrsIn(string(b))
	var missing, unlike []string
	for _, r := range roles {
		var got roleAttrs
		err := c.QueryRow(ctx, "SELECT rolcanlogin, rolinherit, rolcreaterole, rolcreatedb, rolconnlimit FROM pg_roles WHERE rolname = $1", r).
			Scan(&got.login, &got.inherit, &got.createRole, &got.createDB, &got.connLimit)
		if errors.Is(err, pgx.ErrNoRows) {
			missing = append(missing, r)
			continue
		}
		if err != nil {
			return tgt, roles, nil, err
		}
		if w, ok := want[r]; ok && w != got {
			unlike = append(unlike, fmt.Sprintf("%s is %s on the target, %s in the globals file", r, got, w))
		}
	}
	if len(unlike) > 0 {
		// a role of the same name with other attributes is not this source's role: never taken
		// for it, never altered or dropped by cairn
		return tgt, roles, missing, foreign("roles of the same names but other attributes are on the target: "+strings.Join(unlike, "; "),
			"the target is not fresh: find out whose these roles are; drop them (or make them as the globals file says) if they should not be there, then run again")
	}
	return tgt, roles, missing, nil
}

// roleAttrs are the attributes of a role the globals file sets and pg_roles shows.
type roleAttrs struct {
	login, inherit, createRole, createDB bool
	connLimit                            int
}

func (a roleAttrs) String() string {
	no := func(b bool, s string) string {
		if b {
			return s
		}
		return "NO" + s
	}
	return fmt.Sprintf("%s %s %s %s CONNECTION LIMIT %d", no(a.login, "LOGIN"), no(a.inherit, "INHERIT"), no(a.createRole, "CREATEROLE"), no(a.createDB, "CREATEDB"), a.connLimit)
}

// roleAttrsIn reads each role's attributes from a filtered globals file's ALTER ROLE … WITH lines.
func roleAttrsIn(text string) map[string]roleAttrs {
	out := map[string]roleAttrs{}
	for _, line := range strings.Split(text, "\n") {
		m := alterRoleRE.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil || !strings.HasPrefix(m[2], "WITH ") {
			continue
		}
		a := roleAttrs{inherit: true, connLimit: -1}
		f := strings.Fields(strings.TrimSuffix(strings.TrimPrefix(m[2], "WITH "), ";"))
		for i := 0; i < len(f); i++ {
			switch f[i] {
			case "LOGIN", "NOLOGIN":
				a.login = f[i] == "LOGIN"
			case "INHERIT", "NOINHERIT":
				a.inherit = f[i] == "INHERIT"
			case "CREATEROLE", "NOCREATEROLE":
				a.createRole = f[i] == "CREATEROLE"
			case "CREATEDB", "NOCREATEDB":
				a.createDB = f[i] == "CREATEDB"
			case "CONNECTION":
				if i+2 < len(f) && f[i+1] == "LIMIT" {
					fmt.Sscan(f[i+2], &a.connLimit)
					i += 2
				}
			}
		}
		out[roleName(m[1])] = a
	}
	return out
}

// Check says which roles are missing on the target.
func (g *GlobalsRestore) Check(ctx context.Context, env *steps.Env) steps.Check {
	tgt, roles, missing, err := g.missing(ctx, env)
	if err != nil {
		return unknownOr(err, "the globals dump must have finished; check the target's connection")
	}
	if len(missing) == 0 {
		unset, err := g.unset(ctx, env, tgt, roles)
		if err != nil {
			return unknownOr(err, "check passwords-secret and the target's connection")
		}
		if len(unset) > 0 {
			return steps.ReadyTo(steps.Update, "all %d roles exist on the target; set the passwords of %s from passwords-secret (they cannot log in with them yet)", len(roles), strings.Join(unset, ", "))
		}
		return steps.AlreadyDone("all %d roles exist on the target, and every login role the secret gives logs in with its password", len(roles))
	}
	if len(missing) < len(roles) {
		return steps.BlockedBy(fmt.Sprintf("%d of %d roles already exist on the target (missing: %s)", len(roles)-len(missing), len(roles), strings.Join(missing, ", ")),
			"the target is not fresh: compare its roles with the globals file and drop the ones that should not be there")
	}
	return steps.ReadyTo(steps.Create, "create %d roles on the target in one transaction", len(roles))
}

// Apply replays the file and sets passwords.
func (g *GlobalsRestore) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	f, err := env.Text(g.File)
	if err != nil {
		return nil, err
	}
	tgt, roles, missing, err := g.missing(ctx, env)
	if err != nil {
		return nil, err
	}
	if len(missing) > 0 {
		argv := []string{"psql", "-X", "-q", "--single-transaction", "-v", "ON_ERROR_STOP=1", "-d", tgt.dbArg("postgres"), "-f", f}
		if _, err := proc.Run(ctx, env, proc.Cmd{Argv: argv, Env: tgt.environ(env.Environ, "")}); err != nil {
			return nil, steps.Unchanged(fmt.Errorf("globals (one transaction, rolled back: no role was created): %w", err))
		}
	}
	return nil, g.passwords(ctx, env, tgt, roles)
}

func (g *GlobalsRestore) passwords(ctx context.Context, env *steps.Env, tgt dsn, roles []string) error {
	pw, err := readPasswords(ctx, env, g.Target.Region, g.PasswordsSecret)
	if err != nil {
		return err
	}
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	for _, r := range roles {
		p, ok := pw[r]
		if !ok {
			continue
		}
		v, err := ref.ScramVerifier(p)
		if err != nil {
			return err
		}
		if _, err := c.Exec(ctx, "ALTER ROLE "+ident(r)+" PASSWORD "+literal(v)); err != nil {
			return fmt.Errorf("set the password of %s: %w", r, err)
		}
	}
	none, err := loginRolesWithoutPassword(ctx, c, roles, pw)
	if err != nil {
		return err
	}
	if len(none) > 0 {
		secret, _ := env.OptionalText(g.PasswordsSecret)
		problem, fix := passwordProblem(none, secret)
		return steps.Failed(fix+", then `"+strings.TrimSpace("cairn resume "+env.RunID)+"`", "%s — the roles are created, nothing else changed", problem)
	}
	return nil
}

// unset lists the login roles the passwords secret gives that cannot log in on the target with
// their password (none set yet, or another).
func (g *GlobalsRestore) unset(ctx context.Context, env *steps.Env, tgt dsn, roles []string) ([]string, error) {
	pw, err := readPasswords(ctx, env, g.Target.Region, g.PasswordsSecret)
	if err != nil || len(pw) == 0 {
		return nil, err
	}
	return loginFails(ctx, tgt, roles, pw)
}

// Verify proves every role exists, every login role has a password (or logs in by IAM or
// Kerberos), and each one the secret gives logs in with it.
func (g *GlobalsRestore) Verify(ctx context.Context, env *steps.Env) error {
	tgt, roles, missing, err := g.missing(ctx, env)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		return &steps.VerifyError{What: "roles on the target", Expected: "all present", Found: "missing " + strings.Join(missing, ", ")}
	}
	pw, err := readPasswords(ctx, env, g.Target.Region, g.PasswordsSecret)
	if err != nil {
		return err
	}
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	none, err := loginRolesWithoutPassword(ctx, c, roles, pw)
	c.Close(context.WithoutCancel(ctx))
	if err != nil {
		return err
	}
	if len(none) > 0 {
		return &steps.VerifyError{What: "login roles on the target", Expected: "a password each (passwords-secret), or IAM/Kerberos login", Found: "none for " + strings.Join(none, ", ")}
	}
	unset, err := loginFails(ctx, tgt, roles, pw)
	if err != nil {
		return err
	}
	if len(unset) > 0 {
		return &steps.VerifyError{What: "logins on the target", Expected: "each role of passwords-secret logs in with its password", Found: "refused for " + strings.Join(unset, ", ")}
	}
	return nil
}

// Rollback drops the roles the file created (after the databases are gone: roles that still own
// objects cannot be dropped, and the error says which).
func (g *GlobalsRestore) Rollback(ctx context.Context, env *steps.Env) error {
	created, err := env.OptionalText(g.CreatedInstance)
	if err != nil {
		return err
	}
	tgt, roles, _, err := g.missing(ctx, env)
	if isInstanceMissing(err) && created != "" {
		if id, lerr := instanceByResourceID(ctx, env, g.Target, created); lerr == nil && id == "" {
			env.Info(fmt.Sprintf("the instance this run created (DbiResourceId %s) no longer exists: its roles went with it", created))
			return nil
		}
	}
	if err != nil {
		return err
	}
	c, err := tgt.connect(ctx, "")
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for i := len(roles) - 1; i >= 0; i-- {
		if _, err := tx.Exec(ctx, "DROP ROLE IF EXISTS "+ident(roles[i])); err != nil {
			if hasSQLState(err, "2BP01") && created != "" && created == tgt.ResourceID {
				env.Info(fmt.Sprintf("role %s still owns objects on %s (%v): the roles are left to the rollback of the step that created the instance, which deletes it", roles[i], tgt.Label, err))
				return nil
			}
			return fmt.Errorf("drop role %s: %w", roles[i], err)
		}
	}
	return tx.Commit(ctx)
}
