package dblink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// OwnerMarker is the comment cairn puts on the role it makes to own connect_remote; rollback drops
// only a role with it.
const OwnerMarker = "cairn dblink-secret: NOLOGIN owner of connect_remote (made by cairn; rollback drops it)"

// The functions connect_remote calls, which its owner role must be allowed to execute.
const (
	invokeFn   = "aws_lambda.invoke(aws_commons._lambda_function_arn_1, json, text, text, json, varchar)"
	arnFn      = "aws_commons.create_lambda_function_arn(text, text)"
	ownerAttrs = "NOLOGIN NOCREATEDB NOCREATEROLE"
)

// dblinkFns are the dblink functions connect_remote calls (in the schema dblink lives in).
// Written as pg_get_function_identity_arguments prints them.
var dblinkFns = []string{"dblink_connect(text, text)", "dblink_disconnect(text)", "dblink_get_connections()"}

// defaultOwner is the owner role's name when none is given.
func defaultOwner(schema string) string { return schema + "_owner" }

// checkOwner refuses an owner role name that is not a plain new role, or that is also a grant-to role
// (the owner may invoke aws_lambda, and so read the password).
func checkOwner(owner string, grantTo []string) error {
	if !identRE.MatchString(owner) || strings.HasPrefix(owner, "pg_") || strings.HasPrefix(owner, "rds") || owner == "public" {
		return fmt.Errorf("owner %q: a new lowercase role name (letters, digits, _), not public, pg_*, rds*", owner)
	}
	if slices.Contains(grantTo, owner) {
		return fmt.Errorf("owner %s is also a grant-to role: the owner role may invoke aws_lambda itself; give connect_remote to application roles only", owner)
	}
	return nil
}

// ownerState is the owner role as the database holds it now.
type ownerState struct {
	exists, marked, canLogin bool
	attrs                    []string // SUPERUSER, CREATEROLE, … it holds (it should hold none)
	memberOf                 []string // roles it is a member of (it should be in none)
	members                  []string // roles that are members of it, besides the admin running cairn
	lacks                    []string // what connect_remote needs and the role may not do
	extra                    []string // privileges it holds beyond what connect_remote needs
}

// blocker says what keeps Apply from bringing the role to what is wanted (a role cairn did not make,
// or attributes only a superuser can take away), with the fix; "" when nothing does.
func (o ownerState) blocker(name string) (what, fix string) {
	switch {
	case o.exists && !o.marked:
		return fmt.Sprintf("role %s exists and was not made by cairn", name),
			"choose another -p owner-role=… : cairn makes its own NOLOGIN role to own connect_remote and never takes over a role"
	case slices.ContainsFunc(o.attrs, func(a string) bool { return a == "SUPERUSER" || a == "REPLICATION" || a == "BYPASSRLS" }):
		return fmt.Sprintf("role %s has %s, which only a superuser can take away", name, strings.Join(o.attrs, ", ")),
			fmt.Sprintf("as a superuser: ALTER ROLE %s NOSUPERUSER NOREPLICATION NOBYPASSRLS; or drop the role and run again", ident(name))
	}
	return "", ""
}

// differences lists, one item each, what keeps the role from what is wanted.
func (o ownerState) differences(name string) []string {
	if !o.exists {
		return []string{"no owner role " + name}
	}
	var out []string
	if !o.marked {
		out = append(out, "role "+name+" not marked as cairn's")
	}
	if o.canLogin {
		out = append(out, "owner role "+name+" may log in")
	}
	if len(o.attrs) > 0 {
		out = append(out, fmt.Sprintf("owner role %s has %s", name, strings.Join(o.attrs, ", ")))
	}
	for _, r := range o.memberOf {
		out = append(out, fmt.Sprintf("owner role %s is a member of %s", name, r))
	}
	for _, r := range o.members {
		out = append(out, fmt.Sprintf("%s is a member of owner role %s (it could invoke aws_lambda itself)", r, name))
	}
	for _, l := range o.lacks {
		out = append(out, fmt.Sprintf("owner role %s lacks %s", name, l))
	}
	for _, e := range o.extra {
		out = append(out, fmt.Sprintf("owner role %s holds %s, which connect_remote does not need", name, e))
	}
	return out
}

// lookOwner reads the owner role: attributes, marker, memberships, and what it may and does hold.
func (w wantFunction) lookOwner(ctx context.Context, c *pgx.Conn) (ownerState, error) {
	var o ownerState
	var comment *string
	err := c.QueryRow(ctx, `SELECT r.rolcanlogin, shobj_description(r.oid, 'pg_authid'),
			array_remove(ARRAY[CASE WHEN r.rolsuper THEN 'SUPERUSER' END, CASE WHEN r.rolcreaterole THEN 'CREATEROLE' END,
				CASE WHEN r.rolcreatedb THEN 'CREATEDB' END, CASE WHEN r.rolreplication THEN 'REPLICATION' END,
				CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END], NULL),
			coalesce((SELECT array_agg(pg_get_userbyid(m.roleid) ORDER BY pg_get_userbyid(m.roleid)) FROM pg_auth_members m WHERE m.member = r.oid), '{}'),
			coalesce((SELECT array_agg(pg_get_userbyid(m.member) ORDER BY pg_get_userbyid(m.member)) FROM pg_auth_members m
			          WHERE m.roleid = r.oid AND pg_get_userbyid(m.member) <> current_user), '{}')
		FROM pg_roles r WHERE r.rolname = $1`, w.owner).Scan(&o.canLogin, &comment, &o.attrs, &o.memberOf, &o.members)
	if errors.Is(err, pgx.ErrNoRows) {
		return o, nil
	}
	if err != nil {
		return o, fmt.Errorf("read role %s: %w", w.owner, err)
	}
	o.exists, o.marked = true, comment != nil && *comment == OwnerMarker

	// What connect_remote needs, asked of the server (which counts PUBLIC's privileges too).
	tbl := ident(w.schema) + ".allowed_secrets"
	needs := []struct{ what, sql string }{
		{"USAGE on schema " + w.schema, `has_schema_privilege($1, to_regnamespace($2::text), 'USAGE')`},
		{"SELECT on table " + w.schema + ".allowed_secrets", `has_table_privilege($1, to_regclass($3::text), 'SELECT')`},
		{"USAGE on schema aws_lambda", `has_schema_privilege($1, to_regnamespace('aws_lambda'), 'USAGE')`},
		{"USAGE on schema aws_commons", `has_schema_privilege($1, to_regnamespace('aws_commons'), 'USAGE')`},
		{"EXECUTE on " + invokeFn, `has_function_privilege($1, to_regprocedure('` + invokeFn + `'), 'EXECUTE')`},
		{"EXECUTE on " + arnFn, `has_function_privilege($1, to_regprocedure('` + arnFn + `'), 'EXECUTE')`},
	}
	if w.dblinkSchema != "" { // as read from pg_extension: already an identifier
		needs = append(needs, struct{ what, sql string }{"USAGE on schema " + w.dblinkSchema, `has_schema_privilege($1, to_regnamespace(` + literal(w.dblinkSchema) + `), 'USAGE')`})
		for _, f := range dblinkFns {
			needs = append(needs, struct{ what, sql string }{"EXECUTE on " + w.dblinkSchema + "." + f,
				`has_function_privilege($1, to_regprocedure(` + literal(w.dblinkSchema+"."+f) + `), 'EXECUTE')`})
		}
	}
	var cols []string
	for _, n := range needs {
		cols = append(cols, "coalesce("+n.sql+", false)")
	}
	got := make([]bool, len(needs))
	dest := make([]any, len(needs))
	for i := range got {
		dest[i] = &got[i]
	}
	if err := c.QueryRow(ctx, "SELECT "+strings.Join(cols, ", "), w.owner, w.schema, tbl).Scan(dest...); err != nil {
		return o, fmt.Errorf("read what role %s may do: %w", w.owner, err)
	}
	for i, n := range needs {
		if !got[i] {
			o.lacks = append(o.lacks, n.what)
		}
	}

	// What it holds, granted to it by name: anything beyond what connect_remote needs is extra.
	// (Routines it owns are left out: an owner's rights are its own.)
	rows, err := c.Query(ctx, `
		WITH o AS (SELECT oid FROM pg_roles WHERE rolname = $1)
		SELECT 'schema', n.nspname, n.nspname, '', a.privilege_type, a.is_grantable FROM pg_namespace n, aclexplode(n.nspacl) a, o WHERE a.grantee = o.oid
		UNION ALL
		SELECT 'table', c.oid::regclass::text, c.relnamespace::regnamespace::text, c.relname, a.privilege_type, a.is_grantable FROM pg_class c, aclexplode(c.relacl) a, o WHERE a.grantee = o.oid
		UNION ALL
		SELECT 'column', c.oid::regclass::text || '.' || t.attname, '', '', a.privilege_type, a.is_grantable
		FROM pg_class c JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a, o WHERE a.grantee = o.oid
		UNION ALL
		SELECT 'function', p.oid::regprocedure::text, p.pronamespace::regnamespace::text, p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
			a.privilege_type, a.is_grantable FROM pg_proc p, aclexplode(p.proacl) a, o WHERE a.grantee = o.oid AND p.proowner <> o.oid
		UNION ALL
		SELECT 'database', d.datname, '', '', a.privilege_type, a.is_grantable FROM pg_database d, aclexplode(d.datacl) a, o WHERE a.grantee = o.oid AND d.datname = current_database()`, w.owner)
	if err != nil {
		return o, fmt.Errorf("read the privileges of role %s: %w", w.owner, err)
	}
	defer rows.Close()
	for rows.Next() {
		var kind, obj, ns, name, priv string
		var grantable bool
		if err := rows.Scan(&kind, &obj, &ns, &name, &priv, &grantable); err != nil {
			return o, fmt.Errorf("read the privileges of role %s: %w", w.owner, err)
		}
		ok := !grantable && (kind == "schema" && priv == "USAGE" && (ns == w.schema || ns == "aws_lambda" || ns == "aws_commons" || ns == w.dblinkSchema) ||
			kind == "table" && priv == "SELECT" && ns == w.schema && name == "allowed_secrets" ||
			kind == "function" && priv == "EXECUTE" && (ns == "aws_lambda" || ns == "aws_commons" || ns == w.dblinkSchema && slices.Contains(dblinkFns, name)))
		if ok {
			continue
		}
		if grantable {
			priv += " WITH GRANT OPTION"
		}
		o.extra = append(o.extra, fmt.Sprintf("%s on %s %s", priv, kind, obj))
	}
	if err := rows.Err(); err != nil {
		return o, fmt.Errorf("read the privileges of role %s: %w", w.owner, err)
	}
	slices.Sort(o.extra)
	return o, nil
}

// ok says whether the role is as wanted.
func (o ownerState) ok() bool {
	return o.exists && o.marked && !o.canLogin && len(o.attrs) == 0 && len(o.memberOf) == 0 && len(o.members) == 0 &&
		len(o.lacks) == 0 && len(o.extra) == 0
}

// ownerSetup makes the owner role (or brings cairn's back to NOLOGIN and nothing else): created when
// missing, the admin running cairn made a member of it when it is not (so it may create and replace
// a function the role owns; the role is never a member of the admin), marked, and stripped of every
// membership and every privilege it holds in this database — the statements after these grant back
// exactly what connect_remote needs, in the same transaction.
func (w wantFunction) ownerSetup() []string {
	o, lo := ident(w.owner), literal(w.owner)
	return []string{
		"DO $cairn$ BEGIN\n" +
			"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = " + lo + ") THEN CREATE ROLE " + o + " " + ownerAttrs + "; END IF;\n" +
			"IF NOT pg_has_role(current_user, " + lo + ", 'USAGE') THEN GRANT " + o + " TO CURRENT_USER; END IF;\nEND $cairn$",
		"ALTER ROLE " + o + " " + ownerAttrs,
		"COMMENT ON ROLE " + o + " IS " + literal(OwnerMarker),
		w.ownerStrip(),
	}
}

// ownerStrip revokes the owner role's memberships, every membership in it but the admin's, and every
// privilege granted to it on this database's schemas, tables, columns and routines.
func (w wantFunction) ownerStrip() string {
	lo := literal(w.owner)
	return "DO $cairn$ DECLARE r text; o oid := (SELECT oid FROM pg_roles WHERE rolname = " + lo + "); BEGIN\n" +
		"FOR r IN SELECT pg_get_userbyid(m.roleid) FROM pg_auth_members m WHERE m.member = o LOOP\n" +
		"  EXECUTE format('REVOKE %I FROM %I', r, " + lo + ");\nEND LOOP;\n" +
		"FOR r IN SELECT pg_get_userbyid(m.member) FROM pg_auth_members m WHERE m.roleid = o AND pg_get_userbyid(m.member) <> current_user LOOP\n" +
		"  EXECUTE format('REVOKE %I FROM %I', " + lo + ", r);\nEND LOOP;\n" +
		"FOR r IN SELECT 'SCHEMA ' || quote_ident(n.nspname) FROM pg_namespace n, aclexplode(n.nspacl) a WHERE a.grantee = o\n" +
		"    UNION SELECT 'TABLE ' || c.oid::regclass::text FROM pg_class c, aclexplode(c.relacl) a WHERE a.grantee = o\n" +
		"    UNION SELECT 'TABLE ' || c.oid::regclass::text FROM pg_class c JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a WHERE a.grantee = o\n" +
		"    UNION SELECT 'ROUTINE ' || p.oid::regprocedure::text FROM pg_proc p, aclexplode(p.proacl) a WHERE a.grantee = o AND p.proowner <> o\n" +
		"    UNION SELECT 'DATABASE ' || quote_ident(d.datname) FROM pg_database d, aclexplode(d.datacl) a WHERE a.grantee = o AND d.datname = current_database() LOOP\n" +
		"  EXECUTE format('REVOKE ALL ON %s FROM %I CASCADE', r, " + lo + ");\nEND LOOP;\nEND $cairn$"
}

// ownerGrants are what connect_remote needs, granted to the owner role: its schema and the allow-list
// (read only), aws_commons' ARN constructor, the aws_lambda functions (those the admin may grant —
// on RDS the invoke functions rds_superuser holds WITH GRANT OPTION, what AWS documents granting for
// aws_lambda), and dblink's connect, disconnect and list when PUBLIC does not already allow them.
func (w wantFunction) ownerGrants() []string {
	o, lo, s := ident(w.owner), literal(w.owner), ident(w.schema)
	dl := w.dblinkSchema // as read from pg_extension: already an identifier
	var b strings.Builder
	b.WriteString("DO $cairn$ BEGIN\n")
	b.WriteString("IF NOT has_schema_privilege(" + lo + ", to_regnamespace(" + literal(dl) + "), 'USAGE') THEN GRANT USAGE ON SCHEMA " + dl + " TO " + o + "; END IF;\n")
	for _, f := range dblinkFns {
		b.WriteString("IF NOT has_function_privilege(" + lo + ", " + literal(dl+"."+f) + ", 'EXECUTE') THEN GRANT EXECUTE ON FUNCTION " + dl + "." + f + " TO " + o + "; END IF;\n")
	}
	b.WriteString("END $cairn$")
	return []string{
		"GRANT SELECT ON " + s + ".allowed_secrets TO " + o,
		"GRANT USAGE ON SCHEMA aws_lambda, aws_commons TO " + o,
		"GRANT EXECUTE ON FUNCTION " + arnFn + " TO " + o,
		"DO $cairn$ DECLARE f text; BEGIN\n" +
			"FOR f IN SELECT p.oid::regprocedure::text FROM pg_proc p WHERE p.pronamespace = 'aws_lambda'::regnamespace\n" +
			"    AND has_function_privilege(current_user, p.oid, 'EXECUTE WITH GRANT OPTION') ORDER BY 1 LOOP\n" +
			"  EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %I', f, " + lo + ");\nEND LOOP;\nEND $cairn$",
		b.String(),
	}
}

// ownerDrop are the rollback's statements for cairn's owner role, once connect_remote is gone: the
// admin made a member again if it is not (to revoke what the role granted), every privilege the role
// holds here revoked, then the role dropped.
func (w wantFunction) ownerDrop() []string {
	o, lo := ident(w.owner), literal(w.owner)
	return []string{
		"DO $cairn$ BEGIN IF NOT pg_has_role(current_user, " + lo + ", 'USAGE') THEN GRANT " + o + " TO CURRENT_USER; END IF; END $cairn$",
		w.ownerStrip(),
		"DROP ROLE " + o,
	}
}
