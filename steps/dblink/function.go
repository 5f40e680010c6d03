package dblink

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/cairn-runbooks/cairn/internal/ref"
	"github.com/cairn-runbooks/cairn/steps"
)

// SchemaMarker is the comment cairn puts on the schema it makes; rollback drops only a schema with it.
const SchemaMarker = "cairn dblink-secret: connect_remote and its allow-list (made by cairn; rollback drops it)"

// Function is the `dblink-secret-function` kind: in a schema of its own, the allow-list table
// (`allowed_secrets`) holding the secret ids the runbook names, and ONE function,
// `connect_remote(conn_name text, secret_id text) RETURNS text`: SECURITY DEFINER, search_path pinned
// to pg_catalog, pg_temp; EXECUTE revoked from PUBLIC and granted only to the grant-to roles. It
// accepts only allow-listed ids, asks the Lambda function for the remote's connection values through
// aws_lambda.invoke, reads the answer with the JSON operators, builds the connection string with every
// value quoted as libpq requires (single quotes; ' and \ escaped with \), connects with
// sslmode=verify-full against ssl-root-cert, and returns only a status.
//
// connect_remote is owned by a role of its own (`owner`, default <schema>_owner), made NOLOGIN and
// marked by its comment, never by the admin: a bug in the function acts with that role's rights only.
// The role holds exactly what the function needs — USAGE on the schema and SELECT on the allow-list,
// USAGE on aws_lambda and aws_commons, EXECUTE on aws_commons.create_lambda_function_arn and on the
// aws_lambda functions (those the admin may grant: on RDS, the invoke functions), dblink's connect,
// disconnect and list (through PUBLIC, or granted when PUBLIC lacks them) — is a member of no role,
// and only the admin that runs cairn is a member of it (so it may replace and drop the function).
// Anything else it holds or may do makes Check say Ready and Verify fail, and Apply strips it and
// grants back exactly the above; a role of that name that cairn did not make, or one with attributes
// only a superuser can take away, is Blocked.
//
// Nobody but the schema's owner (the admin user that made it) and the owner role's SELECT holds any
// privilege on allowed_secrets, and nobody else holds anything on the schema beyond USAGE for the
// grant-to roles and the owner role: a role that could write the allow-list could make connect_remote
// fetch any secret the Lambda function may read. A privilege found beyond that makes Check say Ready
// (naming the role and the privilege) and Verify fail; Apply revokes every such privilege — these are
// cairn's own objects, whose whole ACL this step defines, so re-running the runbook repairs them. A
// table owned by another role than the schema's, or a function owned by another role than the
// schema's or the owner role, is Blocked: cairn does not take objects back from a role.
//
// Rollback drops the function, the table and the schema, then the owner role it made.
type Function struct {
	Target       `yaml:",inline"`
	Schema       ref.Template   `yaml:"schema"`
	Secrets      []ref.Template `yaml:"secrets"`
	FunctionArn  ref.Template   `yaml:"function-arn"`
	LambdaRegion ref.Template   `yaml:"lambda-region"`
	SSLRootCert  ref.Template   `yaml:"ssl-root-cert"`
	GrantTo      ref.Template   `yaml:"grant-to"`
	// Owner is the NOLOGIN role made to own connect_remote (default <schema>_owner).
	Owner ref.Template `yaml:"owner"`
}

// Validate checks the parameters.
func (f *Function) Validate() error {
	if f.Instance.IsZero() || f.Schema.IsZero() || len(f.Secrets) == 0 || f.FunctionArn.IsZero() || f.SSLRootCert.IsZero() || f.GrantTo.IsZero() {
		return errors.New("give `instance:`, `schema:`, `secrets:`, `function-arn:`, `ssl-root-cert:` and `grant-to:`")
	}
	return nil
}

type wantFunction struct {
	schema, arn, region, rootCert string
	owner                         string // the NOLOGIN role that owns connect_remote
	secrets, grantTo              []string
	dblinkSchema                  string // where the dblink extension lives (read from the database)
}

// withDblink reads the schema of the dblink extension, which connect_remote names explicitly (its
// search_path is pinned to pg_catalog).
func (w *wantFunction) withDblink(ctx context.Context, c *pgx.Conn) error {
	err := c.QueryRow(ctx, `SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'dblink'`).Scan(&w.dblinkSchema)
	if errors.Is(err, pgx.ErrNoRows) {
		return errors.New("extension dblink is not installed: run the extensions step first (CREATE EXTENSION dblink)")
	}
	return err
}

func (f *Function) resolve(env *steps.Env, describe bool) (wantFunction, error) {
	text := env.Text
	if describe {
		text = func(t ref.Template) (string, error) { return env.Describe(t), nil }
	}
	var w wantFunction
	var grant string
	for _, p := range []struct {
		t   ref.Template
		dst *string
	}{{f.Schema, &w.schema}, {f.FunctionArn, &w.arn}, {f.LambdaRegion, &w.region}, {f.SSLRootCert, &w.rootCert}, {f.GrantTo, &grant}, {f.Owner, &w.owner}} {
		v, err := text(p.t)
		if err != nil {
			return w, err
		}
		*p.dst = v
	}
	for _, t := range f.Secrets {
		v, err := text(t)
		if err != nil {
			return w, err
		}
		if v != "" && !slices.Contains(w.secrets, v) {
			w.secrets = append(w.secrets, v)
		}
	}
	if w.owner == "" {
		w.owner = defaultOwner(w.schema)
	}
	if describe {
		w.grantTo = strings.Split(grant, ",")
		return w, nil
	}
	if err := checkSchema(w.schema); err != nil {
		return w, err
	}
	if len(w.secrets) == 0 {
		return w, errors.New("secrets: name at least one secret id")
	}
	if err := checkRootCert(w.rootCert); err != nil {
		return w, err
	}
	if err := checkLambdaARN(w.arn); err != nil {
		return w, err
	}
	if err := checkRegion("lambda-region", w.region); err != nil {
		return w, err
	}
	var err error
	if w.grantTo, err = roleList(grant); err != nil {
		return w, err
	}
	return w, checkOwner(w.owner, w.grantTo)
}

// Body is connect_remote's PL/pgSQL body for a function ARN, region and CA bundle path. Every value
// from the secret is quoted for libpq: wrapped in single quotes with \ and ' escaped by a backslash.
func Body(schema, arn, region, rootCert, dblinkSchema string) string {
	dl := dblinkSchema + "."
	q := func(expr string) string {
		return `'''' || replace(replace(` + expr + `, '\', '\\'), '''', '\''') || ''''`
	}
	var b strings.Builder
	b.WriteString(`
DECLARE
    answer record;
    v jsonb;
    conninfo text;
    k text;
BEGIN
    IF conn_name IS NULL OR conn_name !~ '^[A-Za-z_][A-Za-z0-9_]{0,62}$' THEN
        RAISE EXCEPTION 'connect_remote: conn_name must be 1 to 63 letters, digits or underscores' USING ERRCODE = '22023';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM ` + ident(schema) + `.allowed_secrets a WHERE a.secret_id = connect_remote.secret_id) THEN
        RAISE EXCEPTION 'connect_remote: secret % is not in the allow-list ` + schema + `.allowed_secrets', quote_literal(connect_remote.secret_id)
            USING ERRCODE = '42501';
    END IF;

    -- The function is fixed here, not chosen by the caller; its errors name ids and keys, never values.
    SELECT * INTO answer FROM aws_lambda.invoke(
        aws_commons.create_lambda_function_arn(` + literal(arn) + `, ` + literalOrNull(region) + `),
        json_build_object('secret_id', connect_remote.secret_id,
                          'fields', json_build_array('host', 'port', 'dbname', 'username', 'password')));

    -- Read the answer with the JSON operators. Any failure here is reported without its text, which
    -- could quote the answer.
    BEGIN
        IF answer.status_code IS DISTINCT FROM 200 THEN
            RAISE EXCEPTION USING MESSAGE = 'status ' || coalesce(answer.status_code::text, 'none');
        END IF;
        v := answer.payload::jsonb -> 'values';
        IF v IS NULL OR jsonb_typeof(v) <> 'object' THEN
            RAISE EXCEPTION USING MESSAGE = 'no values object';
        END IF;
        FOREACH k IN ARRAY ARRAY['host', 'port', 'dbname', 'username', 'password'] LOOP
            IF coalesce(v ->> k, '') = '' THEN
                RAISE EXCEPTION USING MESSAGE = 'no ' || k;
            END IF;
        END LOOP;
        conninfo := 'host=' || ` + q(`v ->> 'host'`) + `
            || ' port=' || ` + q(`v ->> 'port'`) + `
            || ' dbname=' || ` + q(`v ->> 'dbname'`) + `
            || ' user=' || ` + q(`v ->> 'username'`) + `
            || ' password=' || ` + q(`v ->> 'password'`) + `
            || ' sslmode=verify-full sslrootcert=' || ` + q(literal(rootCert)) + `
            || ' connect_timeout=10 application_name=''cairn connect_remote''';
    EXCEPTION WHEN OTHERS THEN
        RAISE EXCEPTION 'connect_remote: the answer of the secret function for % cannot be used (%)',
            quote_literal(connect_remote.secret_id),
            CASE WHEN SQLSTATE = 'P0001' THEN SQLERRM ELSE 'SQLSTATE ' || SQLSTATE END
            USING ERRCODE = '22000';
    END;
    v := NULL;
    answer := NULL;

    IF conn_name = ANY (` + dl + `dblink_get_connections()) THEN
        PERFORM ` + dl + `dblink_disconnect(conn_name);
    END IF;
    PERFORM ` + dl + `dblink_connect(conn_name, conninfo);
    conninfo := NULL;
    RETURN 'connected ' || conn_name;
END
`)
	return b.String()
}

func literalOrNull(s string) string {
	if s == "" {
		return "NULL"
	}
	return literal(s)
}

// statements are what Apply runs, in one transaction.
func (w wantFunction) statements() []string {
	s := ident(w.schema)
	fn := s + ".connect_remote(text, text)"
	grantees := make([]string, len(w.grantTo))
	for i, r := range w.grantTo {
		grantees[i] = ident(r)
	}
	o := ident(w.owner)
	out := append(w.ownerSetup(),
		"CREATE SCHEMA IF NOT EXISTS "+s,
		"COMMENT ON SCHEMA "+s+" IS "+literal(SchemaMarker),
		"REVOKE ALL ON SCHEMA "+s+" FROM PUBLIC",
		"CREATE TABLE IF NOT EXISTS "+s+".allowed_secrets (secret_id text PRIMARY KEY, added_at timestamptz NOT NULL DEFAULT now())",
		"REVOKE ALL ON "+s+".allowed_secrets FROM PUBLIC",
	)
	var ids []string
	for _, id := range w.secrets {
		ids = append(ids, literal(id))
	}
	out = append(out,
		"DELETE FROM "+s+".allowed_secrets WHERE secret_id NOT IN ("+strings.Join(ids, ", ")+")",
		"INSERT INTO "+s+".allowed_secrets (secret_id) VALUES ("+strings.Join(ids, "), (")+") ON CONFLICT DO NOTHING",
		"CREATE OR REPLACE FUNCTION "+s+".connect_remote(conn_name text, secret_id text) RETURNS text\n"+
			"LANGUAGE plpgsql SECURITY DEFINER\nSET search_path = pg_catalog, pg_temp\nAS "+dollarQuote(Body(w.schema, w.arn, w.region, w.rootCert, w.dblinkSchema)),
		// The function runs as its owner: the NOLOGIN role, never the admin. ALTER … OWNER TO needs the
		// new owner to hold CREATE on the schema; the revocation below takes it back.
		"GRANT CREATE ON SCHEMA "+s+" TO "+o,
		"ALTER FUNCTION "+fn+" OWNER TO "+o,
		"REVOKE ALL ON FUNCTION "+fn+" FROM PUBLIC",
	)
	// Every privilege a role other than the owner holds on the table (or a column of it), the function
	// or the schema: revoked (a re-run with fewer grant-to roles; a grant made behind cairn's back).
	// CASCADE takes along what a holder of a grant option passed on. The grant-to roles get back
	// exactly USAGE and EXECUTE below, in the same transaction.
	tbl := s + ".allowed_secrets"
	esc := func(x string) string { return strings.ReplaceAll(x, "%", "%%") }
	out = append(out, "DO $cairn$ DECLARE r text; BEGIN\n"+
		"FOR r IN SELECT pg_get_userbyid(a.grantee) FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = "+literal(tbl)+"::regclass AND a.grantee NOT IN (0, c.relowner)\n"+
		"    UNION SELECT pg_get_userbyid(a.grantee) FROM pg_class c JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a WHERE c.oid = "+literal(tbl)+"::regclass AND a.grantee NOT IN (0, c.relowner) LOOP\n"+
		"  EXECUTE format('REVOKE ALL ON TABLE "+esc(tbl)+" FROM %I CASCADE', r);\nEND LOOP;\n"+
		"FOR r IN SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_proc p, aclexplode(p.proacl) a WHERE p.oid = "+literal(fn)+"::regprocedure AND a.grantee NOT IN (0, p.proowner) LOOP\n"+
		"  EXECUTE format('REVOKE ALL ON FUNCTION "+esc(fn)+" FROM %I CASCADE', r);\nEND LOOP;\n"+
		"FOR r IN SELECT DISTINCT pg_get_userbyid(a.grantee) FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.oid = "+literal(s)+"::regnamespace AND a.grantee NOT IN (0, n.nspowner) LOOP\n"+
		"  EXECUTE format('REVOKE ALL ON SCHEMA "+esc(s)+" FROM %I CASCADE', r);\nEND LOOP;\nEND $cairn$")
	out = append(out,
		"GRANT USAGE ON SCHEMA "+s+" TO "+o+", "+strings.Join(grantees, ", "),
		"GRANT EXECUTE ON FUNCTION "+fn+" TO "+strings.Join(grantees, ", "),
	)
	return append(out, w.ownerGrants()...)
}

// Describe lists the statements exactly.
func (f *Function) Describe(env *steps.Env) []steps.Action {
	w, _ := f.resolve(env, true)
	w.dblinkSchema = "public" // as read from pg_extension when applied
	if rl, err := roleList(strings.Join(w.grantTo, ",")); err == nil {
		w.grantTo = rl
	}
	target := f.Target.describe(env)
	acts := []steps.Action{{Kind: steps.ActSQL, Target: target, Text: "BEGIN"}}
	for _, s := range w.statements() {
		acts = append(acts, steps.Action{Kind: steps.ActSQL, Target: target, Text: s})
	}
	return append(acts, steps.Action{Kind: steps.ActSQL, Target: target, Text: "COMMIT"})
}

// state is what the database holds now.
type fnState struct {
	schema, marked, fn, bodyOK, secdef, pathOK, allowOK, aclOK, extraObjects bool
	owner                                                                    string // the schema's
	fnOwner, wantOwner                                                       string // connect_remote's, and the role that should own it
	own                                                                      ownerState
	// privileges on the schema, allowed_secrets or its columns held by a role other than the owner
	// and not among those this step grants ("app_rw holds INSERT on table dblink_secret.allowed_secrets"),
	// and grant options on connect_remote (who holds EXECUTE at all is aclOK's).
	strayPrivileges []string
	// objects owned by another role than the schema's ("table dblink_secret.allowed_secrets is owned
	// by app_rw"), and the statements that give each back.
	foreignOwners, ownerFixes []string
	detail                    []string
}

func (w wantFunction) look(ctx context.Context, c *pgx.Conn) (fnState, error) {
	st := fnState{wantOwner: w.owner}
	var err error
	if st.own, err = w.lookOwner(ctx, c); err != nil {
		return st, err
	}
	var comment *string
	err = c.QueryRow(ctx, `SELECT true, obj_description(n.oid, 'pg_namespace'), pg_get_userbyid(n.nspowner) FROM pg_namespace n WHERE n.nspname = $1`, w.schema).Scan(&st.schema, &comment, &st.owner)
	if errors.Is(err, pgx.ErrNoRows) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("read schema %s: %w", w.schema, err)
	}
	st.marked = comment != nil && *comment == SchemaMarker
	var extra int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_class WHERE relnamespace = $1::regnamespace AND relname NOT IN ('allowed_secrets', 'allowed_secrets_pkey')`, w.schema).Scan(&extra); err != nil {
		return st, fmt.Errorf("read schema %s: %w", w.schema, err)
	}
	var others int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = $1::regnamespace AND oid <> coalesce(to_regprocedure($2), 0)`, w.schema, w.schema+".connect_remote(text,text)").Scan(&others); err != nil {
		return st, fmt.Errorf("read schema %s: %w", w.schema, err)
	}
	st.extraObjects = extra > 0 || others > 0
	if err := w.lookPrivileges(ctx, c, &st); err != nil {
		return st, err
	}
	var src string
	var config []string
	var acl []string
	err = c.QueryRow(ctx, `SELECT p.prosrc, p.prosecdef, coalesce(p.proconfig, '{}'), pg_get_userbyid(p.proowner),
			coalesce((SELECT array_agg(CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END)
			          FROM aclexplode(p.proacl) a WHERE a.grantee <> p.proowner AND a.privilege_type = 'EXECUTE'), '{}')
		FROM pg_proc p WHERE p.oid = to_regprocedure($1)`, w.schema+".connect_remote(text,text)").Scan(&src, &st.secdef, &config, &st.fnOwner, &acl)
	if err == nil {
		st.fn = true
		st.bodyOK = src == Body(w.schema, w.arn, w.region, w.rootCert, w.dblinkSchema)
		st.pathOK = slices.Equal(config, []string{"search_path=pg_catalog, pg_temp"})
		want := slices.Clone(w.grantTo)
		slices.Sort(want)
		slices.Sort(acl)
		st.aclOK = slices.Equal(acl, want)
		if !st.aclOK {
			st.detail = append(st.detail, fmt.Sprintf("EXECUTE held by %v, to be %v", acl, want))
		}
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return st, fmt.Errorf("read %s.connect_remote: %w", w.schema, err)
	}
	var ids []string
	if err := c.QueryRow(ctx, `SELECT coalesce(array_agg(secret_id ORDER BY secret_id), '{}') FROM `+ident(w.schema)+`.allowed_secrets`).Scan(&ids); err == nil {
		want := slices.Clone(w.secrets)
		slices.Sort(want)
		slices.Sort(ids)
		st.allowOK = slices.Equal(ids, want)
	}
	return st, nil
}

// lookPrivileges reads who, besides the schema's owner, holds what on the schema and on the allow-list
// (table and column privileges), and who owns the table and the function.
func (w wantFunction) lookPrivileges(ctx context.Context, c *pgx.Conn, st *fnState) error {
	tbl := ident(w.schema) + ".allowed_secrets"
	rows, err := c.Query(ctx, `
		WITH acl AS (
			SELECT 'schema '||n.nspname AS obj, n.nspowner AS owner, a.* FROM pg_namespace n, aclexplode(n.nspacl) a WHERE n.oid = to_regnamespace($1::text)
			UNION ALL
			SELECT 'table '||$1::text||'.'||c.relname, c.relowner, a.* FROM pg_class c, aclexplode(c.relacl) a WHERE c.oid = to_regclass($2::text)
			UNION ALL
			SELECT 'column '||$1::text||'.'||c.relname||'.'||t.attname, c.relowner, a.*
			FROM pg_class c JOIN pg_attribute t ON t.attrelid = c.oid, aclexplode(t.attacl) a WHERE c.oid = to_regclass($2::text)
			UNION ALL
			SELECT 'function '||$1::text||'.connect_remote(text, text)', p.proowner, a.* FROM pg_proc p, aclexplode(p.proacl) a WHERE p.oid = to_regprocedure($3::text))
		SELECT obj, CASE WHEN grantee = 0 THEN 'PUBLIC' ELSE pg_get_userbyid(grantee) END, privilege_type, is_grantable
		FROM acl WHERE grantee <> owner`, w.schema, tbl, w.schema+".connect_remote(text,text)")
	if err != nil {
		return fmt.Errorf("read the privileges on schema %s: %w", w.schema, err)
	}
	defer rows.Close()
	usage := map[string]bool{}
	for rows.Next() {
		var obj, who, priv string
		var grantable bool
		if err := rows.Scan(&obj, &who, &priv, &grantable); err != nil {
			return fmt.Errorf("read the privileges on schema %s: %w", w.schema, err)
		}
		if strings.HasPrefix(obj, "schema ") && priv == "USAGE" && !grantable && slices.Contains(w.grantTo, who) {
			usage[who] = true
			continue
		}
		// The owner role's USAGE on the schema and SELECT on the allow-list are judged by lookOwner.
		if who == w.owner && !grantable && (strings.HasPrefix(obj, "schema ") && priv == "USAGE" || strings.HasPrefix(obj, "table ") && priv == "SELECT") {
			continue
		}
		if strings.HasPrefix(obj, "function ") && !grantable {
			continue // EXECUTE, judged with the grant-to roles by aclOK
		}
		if grantable {
			priv += " WITH GRANT OPTION"
		}
		st.strayPrivileges = append(st.strayPrivileges, fmt.Sprintf("%s holds %s on %s", who, priv, obj))
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read the privileges on schema %s: %w", w.schema, err)
	}
	rows.Close()
	slices.Sort(st.strayPrivileges)
	for _, r := range w.grantTo {
		if !usage[r] {
			st.detail = append(st.detail, fmt.Sprintf("%s lacks USAGE on schema %s", r, w.schema))
		}
	}
	owners, err := c.Query(ctx, `
		SELECT 'table', pg_get_userbyid(c.relowner), pg_get_userbyid(n.nspowner) FROM pg_class c, pg_namespace n
		WHERE c.oid = to_regclass($1::text) AND n.oid = c.relnamespace AND c.relowner <> n.nspowner
		UNION ALL
		SELECT 'function', pg_get_userbyid(p.proowner), pg_get_userbyid(n.nspowner) FROM pg_proc p, pg_namespace n
		WHERE p.oid = to_regprocedure($2::text) AND n.oid = p.pronamespace AND p.proowner <> n.nspowner
		  AND p.proowner IS DISTINCT FROM (SELECT oid FROM pg_roles WHERE rolname = $3::text)`,
		tbl, w.schema+".connect_remote(text,text)", w.owner)
	if err != nil {
		return fmt.Errorf("read the owners in schema %s: %w", w.schema, err)
	}
	defer owners.Close()
	for owners.Next() {
		var kind, owner, schemaOwner string
		if err := owners.Scan(&kind, &owner, &schemaOwner); err != nil {
			return fmt.Errorf("read the owners in schema %s: %w", w.schema, err)
		}
		obj, to := tbl, schemaOwner
		if kind == "function" {
			obj, to = ident(w.schema)+".connect_remote(text, text)", w.owner
		}
		st.foreignOwners = append(st.foreignOwners, fmt.Sprintf("%s %s is owned by %s", kind, obj, owner))
		st.ownerFixes = append(st.ownerFixes, fmt.Sprintf("ALTER %s %s OWNER TO %s", strings.ToUpper(kind), obj, ident(to)))
	}
	if err := owners.Err(); err != nil {
		return fmt.Errorf("read the owners in schema %s: %w", w.schema, err)
	}
	return nil
}

func (st fnState) done() bool {
	return st.schema && st.marked && st.fn && st.bodyOK && st.secdef && st.pathOK && st.aclOK && st.allowOK &&
		st.fnOwner == st.wantOwner && st.own.ok() &&
		len(st.strayPrivileges) == 0 && len(st.foreignOwners) == 0 && len(st.detail) == 0
}

// differences says, one item each, what keeps the state from done.
func (st fnState) differences() []string {
	var out []string
	for _, d := range []struct {
		ok   bool
		what string
	}{{st.schema, "no schema"}, {st.marked, "schema not marked as cairn's"}, {st.fn, "no connect_remote"},
		{!st.fn || st.bodyOK, "connect_remote's body differs"}, {!st.fn || st.secdef, "connect_remote is not SECURITY DEFINER"},
		{!st.fn || st.pathOK, "connect_remote's search_path is not pinned"}, {st.allowOK, "the allow-list differs"},
		{!st.fn || st.fnOwner == st.wantOwner, "connect_remote is owned by " + st.fnOwner + ", to be the NOLOGIN role " + st.wantOwner}} {
		if !d.ok {
			out = append(out, d.what)
		}
	}
	out = append(out, st.own.differences(st.wantOwner)...)
	out = append(out, st.detail...)
	out = append(out, st.strayPrivileges...)
	return append(out, st.foreignOwners...)
}

// Check reads the schema, the function and its grants.
func (f *Function) Check(ctx context.Context, env *steps.Env) steps.Check {
	w, err := f.resolve(env, false)
	if err != nil {
		if errors.Is(err, ref.ErrUnknown) {
			return steps.CannotTell("%v", err)
		}
		return steps.BlockedBy(err.Error(), "fix the parameter")
	}
	c, err := f.connect(ctx, env)
	if err != nil {
		return steps.BlockedBy(err.Error(), "check the instance, credentials-secret (or PGUSER/PGPASSWORD) and PGSSLROOTCERT (the RDS CA bundle)")
	}
	defer c.Close(context.WithoutCancel(ctx))
	if err := w.withDblink(ctx, c); err != nil {
		return steps.CannotTell("%v", err)
	}
	st, err := w.look(ctx, c)
	if err != nil {
		return steps.CannotTell("%v", err)
	}
	if what, fix := st.own.blocker(w.owner); what != "" {
		return steps.BlockedBy(what, fix)
	}
	switch {
	case !st.schema:
		return steps.ReadyTo(steps.Create, "schema %s does not exist → create it with allowed_secrets and connect_remote, owned by the NOLOGIN role %s", w.schema, w.owner)
	case !st.marked:
		return steps.BlockedBy(fmt.Sprintf("schema %s exists and was not made by cairn (owner %s)", w.schema, st.owner),
			"choose another schema (-p schema=…): cairn does not put a SECURITY DEFINER function into a schema others use")
	case st.extraObjects:
		return steps.BlockedBy(fmt.Sprintf("schema %s holds objects cairn did not make", w.schema),
			fmt.Sprintf("move them out of %s, or choose another schema", w.schema))
	case len(st.foreignOwners) > 0:
		return steps.BlockedBy(fmt.Sprintf("schema %s: %s, not by %s, who owns the schema: that role may change the allow-list or the function",
			w.schema, strings.Join(st.foreignOwners, "; "), st.owner),
			fmt.Sprintf("as a role that may, give it back to %s (%s), or drop schema %s and run again",
				st.owner, strings.Join(st.ownerFixes, "; "), w.schema))
	case len(st.strayPrivileges) > 0:
		return steps.ReadyTo(steps.Update, "schema %s: %s, but only its owner %s may hold privileges there (the grant-to roles: USAGE on the schema) → revoke them%s",
			w.schema, strings.Join(st.strayPrivileges, "; "), st.owner, alsoDiffers(st))
	case st.done():
		return steps.AlreadyDone("schema %s holds connect_remote as described, owned by the NOLOGIN role %s, EXECUTE only for %s, allow-list %v", w.schema, w.owner, strings.Join(w.grantTo, ", "), w.secrets)
	}
	return steps.ReadyTo(steps.Update, "schema %s: %s → replace connect_remote, its grants and the allow-list", w.schema, strings.Join(st.differences(), "; "))
}

// alsoDiffers lists the differences besides stray privileges, as the tail of a reason.
func alsoDiffers(st fnState) string {
	st.strayPrivileges = nil
	if d := st.differences(); len(d) > 0 {
		return "; also " + strings.Join(d, "; ")
	}
	return ""
}

// Apply runs the statements in one transaction.
func (f *Function) Apply(ctx context.Context, env *steps.Env) (steps.Outputs, error) {
	w, err := f.resolve(env, false)
	if err != nil {
		return nil, err
	}
	c, err := f.connect(ctx, env)
	if err != nil {
		return nil, err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if err := w.withDblink(ctx, c); err != nil {
		return nil, err
	}
	st, err := w.look(ctx, c)
	if err != nil {
		return nil, err
	}
	if st.schema && (!st.marked || st.extraObjects) {
		return nil, fmt.Errorf("schema %s is not cairn's: nothing changed", w.schema)
	}
	if len(st.foreignOwners) > 0 {
		return nil, fmt.Errorf("schema %s: %s, not by %s: nothing changed", w.schema, strings.Join(st.foreignOwners, "; "), st.owner)
	}
	if what, fix := st.own.blocker(w.owner); what != "" {
		return nil, fmt.Errorf("%s: nothing changed; %s", what, fix)
	}
	return steps.Outputs{}, inTx(ctx, c, env, w.statements())
}

func inTx(ctx context.Context, c *pgx.Conn, env *steps.Env, stmts []string) error {
	tx, err := c.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	for i, s := range stmts {
		tag, err := tx.Exec(ctx, s)
		if err != nil {
			return fmt.Errorf("statement %d (%s): %w; the transaction was rolled back, nothing changed", i+1, firstLine(s), err)
		}
		env.Info(tag.String())
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " …"
	}
	if len(s) > 120 {
		return s[:120] + " …"
	}
	return s
}

// Verify reads everything back.
func (f *Function) Verify(ctx context.Context, env *steps.Env) error {
	w, err := f.resolve(env, false)
	if err != nil {
		return err
	}
	c, err := f.connect(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	if err := w.withDblink(ctx, c); err != nil {
		return err
	}
	st, err := w.look(ctx, c)
	if err != nil {
		return err
	}
	if !st.done() {
		return &steps.VerifyError{What: "schema " + w.schema,
			Expected: "connect_remote SECURITY DEFINER owned by the NOLOGIN role " + w.owner + " (holding only what it needs), search_path pinned, EXECUTE only for " + strings.Join(w.grantTo, ", ") +
				", allow-list as given, no privilege on it for any role but its owner (and SELECT for " + w.owner + "), schema USAGE only for " + w.owner + ", " + strings.Join(w.grantTo, ", "),
			Found: strings.Join(st.differences(), "; ")}
	}
	return nil
}

// Rollback drops what the step made, newest first: the function, the allow-list and the schema (one
// transaction), then the owner role cairn made, once it owns nothing here (a second one). A schema or
// role cairn did not make is left alone.
func (f *Function) Rollback(ctx context.Context, env *steps.Env) error {
	w, err := f.resolve(env, false)
	if err != nil {
		return err
	}
	c, err := f.connect(ctx, env)
	if err != nil {
		return err
	}
	defer c.Close(context.WithoutCancel(ctx))
	st, err := w.look(ctx, c)
	if err != nil {
		return err
	}
	switch {
	case !st.schema:
	case !st.marked || st.extraObjects:
		env.Info("schema " + w.schema + " is not only cairn's: left alone")
	default:
		var stmts []string
		if st.own.exists && st.own.marked {
			stmts = w.ownerDrop()[:1] // the admin a member of the role again, to drop the function it owns
		}
		if err := inTx(ctx, c, env, append(stmts,
			"DROP FUNCTION IF EXISTS "+ident(w.schema)+".connect_remote(text, text)",
			"DROP TABLE IF EXISTS "+ident(w.schema)+".allowed_secrets",
			"DROP SCHEMA "+ident(w.schema),
		)); err != nil {
			return err
		}
	}
	switch {
	case !st.own.exists:
		return nil
	case !st.own.marked:
		env.Info("role " + w.owner + " was not made by cairn: left alone")
		return nil
	}
	if err := inTx(ctx, c, env, w.ownerDrop()); err != nil {
		return fmt.Errorf("%w (role %s still owns or holds something: REASSIGN OWNED BY %s TO …; DROP OWNED BY %s in each database, then DROP ROLE %s)",
			err, w.owner, ident(w.owner), ident(w.owner), ident(w.owner))
	}
	return nil
}
