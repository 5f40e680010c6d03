package pg

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
	"github.com/jackc/pgx/v5"
)

// Role is the `pg-role` kind.
type Role struct {
	Conn `yaml:",inline"`
	Name ref.Template `yaml:"name"`
	// Login and Inherit are the role's attributes (inherit defaults to true: a role that does not
	// inherit cannot use pg_read_all_settings without SET ROLE).
	Login   bool  `yaml:"login"`
	Inherit *bool `yaml:"inherit"`
	// PasswordFromPgpass is a .pgpass file holding the role's password (the first entry whose user
	// field is the role); cairn sends only a SCRAM verifier computed from it.
	PasswordFromPgpass ref.Template `yaml:"password_from_pgpass"`
	// MemberOf lists roles granted to this role (e.g. pg_read_all_settings).
	MemberOf []ref.Template `yaml:"member_of"`
	// Execute lists functions (with argument types) the role may execute.
	Execute []ref.Template `yaml:"execute"`
	// BackupFunctions adds EXECUTE on the server version's backup start/stop functions:
	// pg_backup_start(text, boolean) / pg_backup_stop(boolean) from PostgreSQL 15,
	// pg_start_backup(text, boolean, boolean) / pg_stop_backup(boolean, boolean) before.
	BackupFunctions bool `yaml:"backup_functions"`
	// Exclusive: the role must hold nothing beyond what this step names (no other memberships,
	// function grants, object privileges, ownerships or powerful attributes). A role that does is
	// refused before anything changes.
	Exclusive bool `yaml:"exclusive"`
}

// registerRole adds the `pg-role` kind.
func registerRole(r *steps.Registry) {
	r.Register("pg-role", "a role with exact attributes, memberships and EXECUTE grants (version-aware backup functions)", func() steps.Step { return &Role{} })
}

// Validate checks the fields.
func (r *Role) Validate() error {
	if r.Name.IsZero() {
		return errors.New("give `name:` (the role)")
	}
	return nil
}

func (r *Role) inherit() bool { return r.Inherit == nil || *r.Inherit }

// BackupFunctions returns the backup start/stop functions of a server version (server_version_num).
func BackupFunctions(versionNum int) []string {
	if versionNum >= 150000 {
		return []string{"pg_catalog.pg_backup_start(text, boolean)", "pg_catalog.pg_backup_stop(boolean)"}
	}
	return []string{"pg_catalog.pg_start_backup(text, boolean, boolean)", "pg_catalog.pg_stop_backup(boolean, boolean)"}
}

// RoleWant is what a role must be.
type RoleWant struct {
	Login, Inherit bool
	MemberOf       []string
	Execute        []string // signatures as written
}

// RoleFound is what a role is, read from the catalogs of the connected database and the shared ones.
type RoleFound struct {
	Exists                                              bool
	OID                                                 uint32
	Login, Inherit                                      bool
	Super, CreateDB, CreateRole, Replication, BypassRLS bool
	Password                                            *string // rolpassword (verifier); nil when none
	MemberOf                                            []string
	Execute                                             map[uint32]string // function oid → signature
	Other                                               []string          // object privileges, ownerships
}

// ReadRole reads a role's attributes, memberships and privileges.
func ReadRole(ctx context.Context, conn *pgx.Conn, name string) (RoleFound, error) {
	var f RoleFound
	err := conn.QueryRow(ctx, `SELECT oid, rolcanlogin, rolinherit, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolpassword
		FROM pg_authid WHERE rolname = $1`, name).Scan(&f.OID, &f.Login, &f.Inherit, &f.Super, &f.CreateDB, &f.CreateRole, &f.Replication, &f.BypassRLS, &f.Password)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, nil
	}
	if err != nil {
		return f, fmt.Errorf("read role %s (the admin connection must be a superuser): %w", name, err)
	}
	f.Exists = true
	rows, _ := conn.Query(ctx, `SELECT roleid::regrole::text FROM pg_auth_members WHERE member = $1 ORDER BY 1`, f.OID)
	if f.MemberOf, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return f, err
	}
	f.Execute = map[uint32]string{}
	rows, _ = conn.Query(ctx, `SELECT p.oid, p.oid::regprocedure::text FROM pg_proc p, aclexplode(p.proacl) a
		WHERE a.grantee = $1 AND a.privilege_type = 'EXECUTE'`, f.OID)
	var oid uint32
	var sig string
	if _, err := pgx.ForEachRow(rows, []any{&oid, &sig}, func() error { f.Execute[oid] = sig; return nil }); err != nil {
		return f, err
	}
	rows, _ = conn.Query(ctx, `
		SELECT format('%s on %s', a.privilege_type, c.oid::regclass) FROM pg_class c, aclexplode(c.relacl) a WHERE a.grantee = $1
		UNION ALL SELECT format('%s on schema %I', a.privilege_type, n.nspname) FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = $1
		UNION ALL SELECT format('%s on database %I', a.privilege_type, d.datname) FROM pg_database d, aclexplode(d.datacl) a WHERE a.grantee = $1
		UNION ALL SELECT format('owns %s object(s) in %s', count(*), coalesce(d.datname, 'the cluster')) FROM pg_shdepend s LEFT JOIN pg_database d ON d.oid = s.dbid
			WHERE s.refobjid = $1 AND s.deptype = 'o' GROUP BY d.datname
		UNION ALL SELECT format('privileges in database %s', d.datname) FROM pg_shdepend s JOIN pg_database d ON d.oid = s.dbid
			WHERE s.refobjid = $1 AND s.deptype = 'a' AND d.oid <> (SELECT oid FROM pg_database WHERE datname = current_database()) GROUP BY d.datname
		ORDER BY 1`, f.OID)
	if f.Other, err = pgx.CollectRows(rows, pgx.RowTo[string]); err != nil {
		return f, err
	}
	return f, nil
}

// resolveFunctions maps signatures to function oids on this server.
func resolveFunctions(ctx context.Context, conn *pgx.Conn, sigs []string) (map[uint32]string, error) {
	out := map[uint32]string{}
	for _, s := range sigs {
		var oid *uint32
		if err := conn.QueryRow(ctx, "SELECT to_regprocedure($1)::oid", s).Scan(&oid); err != nil {
			return nil, err
		}
		if oid == nil {
			return nil, fmt.Errorf("function %s does not exist on this server", s)
		}
		out[*oid] = s
	}
	return out, nil
}

// RoleDiff compares a found role with what it must be: missing things to grant, and extras.
func RoleDiff(ctx context.Context, conn *pgx.Conn, f RoleFound, w RoleWant) (missing, extra []string, err error) {
	fns, err := resolveFunctions(ctx, conn, w.Execute)
	if err != nil {
		return nil, nil, err
	}
	if w.Login && !f.Login {
		missing = append(missing, "LOGIN")
	}
	if !w.Login && f.Login {
		extra = append(extra, "LOGIN")
	}
	if w.Inherit && !f.Inherit {
		missing = append(missing, "INHERIT")
	}
	for _, a := range []struct {
		on   bool
		name string
	}{{f.Super, "SUPERUSER"}, {f.CreateDB, "CREATEDB"}, {f.CreateRole, "CREATEROLE"}, {f.Replication, "REPLICATION"}, {f.BypassRLS, "BYPASSRLS"}} {
		if a.on {
			extra = append(extra, a.name)
		}
	}
	for _, m := range w.MemberOf {
		if !slices.Contains(f.MemberOf, m) {
			missing = append(missing, "member of "+m)
		}
	}
	for _, m := range f.MemberOf {
		if !slices.Contains(w.MemberOf, m) {
			extra = append(extra, "member of "+m)
		}
	}
	for oid, s := range fns {
		if _, ok := f.Execute[oid]; !ok {
			missing = append(missing, "EXECUTE on "+s)
		}
	}
	for oid, s := range f.Execute {
		if _, ok := fns[oid]; !ok {
			extra = append(extra, "EXECUTE on "+s)
		}
	}
	extra = append(extra, f.Other...)
	slices.Sort(missing)
	slices.Sort(extra)
	return missing, extra, nil
}

type roleSpec struct {
	name     string
	want     RoleWant
	password string // from the pgpass file; "" when not managed
	pgpass   string
}

func (r *Role) spec(ctx context.Context, conn *pgx.Conn, env *steps.Env) (roleSpec, error) {
	var s roleSpec
	var err error
	if s.name, err = env.Text(r.Name); err != nil {
		return s, err
	}
	s.want = RoleWant{Login: r.Login, Inherit: r.inherit()}
	for _, m := range r.MemberOf {
		v, err := env.Text(m)
		if err != nil {
			return s, err
		}
		s.want.MemberOf = append(s.want.MemberOf, v)
	}
	for _, m := range r.Execute {
		v, err := env.Text(m)
		if err != nil {
			return s, err
		}
		s.want.Execute = append(s.want.Execute, v)
	}
	if r.BackupFunctions {
		var vn int
		if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&vn); err != nil {
			return s, err
		}
		s.want.Execute = append(s.want.Execute, BackupFunctions(vn)...)
	}
	if !r.PasswordFromPgpass.IsZero() {
		if s.pgpass, err = env.Text(r.PasswordFromPgpass); err != nil {
			return s, err
		}
		if s.password, err = PgpassPassword(s.pgpass, s.name); err != nil {
			return s, err
		}
		if env.Secrets != nil {
			env.Secrets(s.password)
		}
	}
	return s, nil
}

// Describe lists the statements (the version-dependent function names are resolved at run time).
func (r *Role) Describe(env *steps.Env) []steps.Action {
	target := r.Conn.Describe(env)
	name := env.Describe(r.Name)
	q := ref.QuoteIdent(name)
	attrs := "NOLOGIN"
	if r.Login {
		attrs = "LOGIN"
	}
	if r.inherit() {
		attrs += " INHERIT"
	}
	var out []steps.Action
	create := "CREATE ROLE " + q + " " + attrs
	if !r.PasswordFromPgpass.IsZero() {
		create += " PASSWORD '<SCRAM-SHA-256 verifier of the password in " + env.Describe(r.PasswordFromPgpass) + ">'"
	}
	out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- if the role does not exist (else ALTER ROLE for what differs)\n" + create})
	for _, m := range r.MemberOf {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "GRANT " + ref.QuoteIdent(env.Describe(m)) + " TO " + q})
	}
	fns := []string{}
	for _, f := range r.Execute {
		fns = append(fns, env.Describe(f))
	}
	if r.BackupFunctions {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- PostgreSQL 15+:\nGRANT EXECUTE ON FUNCTION pg_catalog.pg_backup_start(text, boolean) TO " + q + "\nGRANT EXECUTE ON FUNCTION pg_catalog.pg_backup_stop(boolean) TO " + q +
			"\n-- before 15:\nGRANT EXECUTE ON FUNCTION pg_catalog.pg_start_backup(text, boolean, boolean) TO " + q + "\nGRANT EXECUTE ON FUNCTION pg_catalog.pg_stop_backup(boolean, boolean) TO " + q})
	}
	for _, f := range fns {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "GRANT EXECUTE ON FUNCTION " + f + " TO " + q})
	}
	if r.Exclusive {
		out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- verify: the role holds exactly these (pg_authid attributes, pg_auth_members, aclexplode(proacl/relacl/nspacl/datacl), pg_shdepend) and nothing else"})
	}
	out = append(out, steps.Action{Kind: steps.ActSQL, Target: target, Text: "-- rollback: DROP ROLE " + q + " if this step created it, else REVOKE exactly what it granted and restore the attributes and password"})
	return out
}

func (r *Role) judge(ctx context.Context, conn *pgx.Conn, env *steps.Env) (roleSpec, RoleFound, []string, []string, error) {
	s, err := r.spec(ctx, conn, env)
	if err != nil {
		return s, RoleFound{}, nil, nil, err
	}
	f, err := ReadRole(ctx, conn, s.name)
	if err != nil || !f.Exists {
		return s, f, nil, nil, err
	}
	missing, extra, err := RoleDiff(ctx, conn, f, s.want)
	if err != nil {
		return s, f, nil, nil, err
	}
	if s.password != "" && (f.Password == nil || !ref.ScramMatches(*f.Password, s.password)) {
		missing = append(missing, "the password in "+s.pgpass)
	}
	if !r.Exclusive {
		// Only powerful attributes count against a non-exclusive step.
		var keep []string
		for _, e := range extra {
			if e == "SUPERUSER" || e == "CREATEROLE" || e == "REPLICATION" || e == "BYPASSRLS" || e == "CREATEDB" {
				keep = append(keep, e)
			}
		}
		extra = keep
	}
	return s, f, missing, extra, nil
}

// Check reads the role.
func (r *Role) Check(ctx context.Context, env *steps.Env) steps.Check {
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the admin connection")
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, f, missing, extra, err := r.judge(ctx, conn, env)
	switch {
	case errors.Is(err, ref.ErrUnknown):
		return steps.CannotTell("%v", err)
	case err != nil:
		return steps.BlockedBy(err.Error(), "fix the runbook's parameters or the pgpass file")
	case !f.Exists:
		return steps.ReadyTo(steps.Create, "role %s does not exist: create it", s.name)
	case len(extra) > 0:
		return steps.BlockedBy(fmt.Sprintf("role %s already exists with other privileges: %s", s.name, strings.Join(extra, ", ")),
			"choose another db-role, or review and revoke those privileges by hand; cairn will not take over a role that can do more")
	case len(missing) > 0:
		return steps.ReadyTo(steps.Update, "role %s lacks: %s", s.name, strings.Join(missing, ", "))
	}
	return steps.AlreadyDone("role %s has exactly what the step grants", s.name)
}

type roleRecord struct {
	Name     string   `json:"name"`
	Created  bool     `json:"created"`
	Login    bool     `json:"login"`
	Inherit  bool     `json:"inherit"`
	Password *string  `json:"password_verifier,omitempty"`
	Granted  []string `json:"granted,omitempty"` // roles granted by this step
	Executes []string `json:"executes,omitempty"`
}

// Apply creates or completes the role in one transaction.
func (r *Role) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, f, _, extra, err := r.judge(ctx, conn, env)
	if err != nil {
		return nil, err
	}
	if f.Exists && len(extra) > 0 {
		return nil, fmt.Errorf("role %s already exists with other privileges: %s; nothing changed", s.name, strings.Join(extra, ", "))
	}
	var rec roleRecord
	if b, ok, err := env.ReadRecord("pg", "role.json"); err != nil {
		return nil, err
	} else if ok {
		_ = json.Unmarshal(b, &rec)
	} else {
		rec = roleRecord{Name: s.name, Created: !f.Exists, Login: f.Login, Inherit: f.Inherit, Password: f.Password}
	}
	q := ref.QuoteIdent(s.name)
	var stmts []string
	attrs := "NOLOGIN"
	if r.Login {
		attrs = "LOGIN"
	}
	if r.inherit() {
		attrs += " INHERIT"
	}
	pw := ""
	if s.password != "" && (f.Password == nil || !ref.ScramMatches(*f.Password, s.password)) {
		v, err := ref.ScramVerifier(s.password)
		if err != nil {
			return nil, err
		}
		pw = " PASSWORD " + ref.QuoteLiteral(v)
	}
	if !f.Exists {
		stmts = append(stmts, "CREATE ROLE "+q+" "+attrs+pw)
	} else if (r.Login && !f.Login) || (r.inherit() && !f.Inherit) || pw != "" {
		stmts = append(stmts, "ALTER ROLE "+q+" "+attrs+pw)
	}
	for _, m := range s.want.MemberOf {
		if !slices.Contains(f.MemberOf, m) {
			stmts = append(stmts, "GRANT "+ref.QuoteIdent(m)+" TO "+q)
			if !slices.Contains(rec.Granted, m) {
				rec.Granted = append(rec.Granted, m)
			}
		}
	}
	fns, err := resolveFunctions(ctx, conn, s.want.Execute)
	if err != nil {
		return nil, err
	}
	for oid, sig := range fns {
		if _, ok := f.Execute[oid]; !ok {
			stmts = append(stmts, "GRANT EXECUTE ON FUNCTION "+sig+" TO "+q)
			if !slices.Contains(rec.Executes, sig) {
				rec.Executes = append(rec.Executes, sig)
			}
		}
	}
	if err := env.SaveRecord("pg", "role.json", rec); err != nil {
		return nil, err
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return nil, fmt.Errorf("%s: %w; rolled back, nothing changed", redactPassword(st), err)
		}
		env.Info(redactPassword(st))
	}
	return nil, tx.Commit(ctx)
}

func redactPassword(st string) string {
	if i := strings.Index(st, " PASSWORD "); i >= 0 {
		return st[:i] + " PASSWORD '<verifier>'"
	}
	return st
}

// Verify reads the role back: everything granted to this very role, nothing more when exclusive.
func (r *Role) Verify(ctx context.Context, env *steps.Env) error {
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	s, f, missing, extra, err := r.judge(ctx, conn, env)
	switch {
	case err != nil:
		return err
	case !f.Exists:
		return &steps.VerifyError{What: "role " + s.name, Expected: "to exist", Found: "no such role"}
	case len(missing) > 0:
		return &steps.VerifyError{What: "role " + s.name, Expected: "to hold what the step grants", Found: "missing " + strings.Join(missing, ", ")}
	case len(extra) > 0:
		return &steps.VerifyError{What: "role " + s.name, Expected: "nothing more", Found: "also " + strings.Join(extra, ", ")}
	}
	return nil
}

// Rollback drops the role it created, or revokes what it granted and restores attributes.
func (r *Role) Rollback(ctx context.Context, env *steps.Env) error {
	var rec roleRecord
	ok, err := env.LoadRecord("pg", "role.json", &rec)
	if err != nil {
		return err
	}
	if !ok {
		env.Info("no record: this step changed nothing")
		return nil
	}
	conn, err := r.Connect(ctx, env)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	q := ref.QuoteIdent(rec.Name)
	var stmts []string
	for _, sig := range rec.Executes {
		stmts = append(stmts, "REVOKE EXECUTE ON FUNCTION "+sig+" FROM "+q)
	}
	for _, m := range rec.Granted {
		stmts = append(stmts, "REVOKE "+ref.QuoteIdent(m)+" FROM "+q)
	}
	if rec.Created {
		stmts = append(stmts, "DROP ROLE IF EXISTS "+q)
	} else {
		attrs := map[bool]string{true: "LOGIN", false: "NOLOGIN"}[rec.Login] + " " + map[bool]string{true: "INHERIT", false: "NOINHERIT"}[rec.Inherit]
		pw := " PASSWORD NULL"
		if rec.Password != nil {
			pw = " PASSWORD " + ref.QuoteLiteral(*rec.Password)
		}
		stmts = append(stmts, "ALTER ROLE "+q+" "+attrs+pw)
	}
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for _, st := range stmts {
		if _, err := tx.Exec(ctx, st); err != nil {
			return fmt.Errorf("%s: %w; nothing was undone", redactPassword(st), err)
		}
		env.Info(redactPassword(st))
	}
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	env.RemoveRecord("pg", "role.json")
	return nil
}
