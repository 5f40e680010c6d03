/*
 * rds_allowances: what RDS for PostgreSQL lets members of rds_superuser and rds_replication do that
 * stock PostgreSQL 15 lets only a superuser do. The cairn twin loads it into every instance through
 * shared_preload_libraries (by absolute path; internal/twin/pgext builds it with PGXS).
 *
 * Why a server hook and not SQL: these checks are hard-coded superuser() calls in the server
 * (CreateSubscription, CreatePublication with FOR ALL TABLES) and role-attribute checks
 * (has_rolreplication for replication slots and walsender connections); no GRANT reaches them.
 *
 * What it allows, and nothing more:
 *   - CREATE SUBSCRIPTION, and CREATE PUBLICATION ... FOR ALL TABLES, by a non-superuser who has the
 *     privileges of rds_superuser: that one statement runs as the bootstrap superuser (rdsadmin), and
 *     the object it made is then given to the caller, as on RDS (so the caller may ALTER and DROP it
 *     under the server's own ownership checks). A publication needs CREATE on the database, as for
 *     anyone. Inside a security-restricted operation nothing is escalated.
 *   - A subscription made or re-pointed (ALTER SUBSCRIPTION ... CONNECTION) by a non-superuser must
 *     name a TCP host and carry a password: its connection is made by the server's OS user, which
 *     could otherwise reach a local socket with trust authentication as any role (PostgreSQL 16
 *     enforces the same with password_required).
 *   - The REPLICATION attribute follows membership of rds_replication (rds_superuser is a member):
 *     after GRANT/REVOKE of a role or CREATE ROLE, every login role that has the privileges of
 *     rds_replication gets REPLICATION, and on REVOKE every one that lost them loses it. That lets
 *     them create and drop replication slots and open logical replication connections, as
 *     rds_replication members can on RDS. Stock PostgreSQL lets only a superuser ALTER a role with
 *     REPLICATION; for a role that has it from rds_replication, an ALTER ROLE that does not name
 *     REPLICATION runs with the attribute cleared (so the server's own checks for an ordinary role
 *     apply: CREATEROLE, or one's own password) and it is given back after.
 *   - rds.force_ssl (0 or 1, reloadable, set by the parameter group): when 1, a TCP connection
 *     without TLS is refused after authentication with the message RDS's pg_hba.conf gives it (no
 *     hostssl entry, "no encryption"); Unix-socket connections, which RDS does not offer and the
 *     twin uses internally, are not affected.
 * Any other statement passes through untouched.
 */
#include "postgres.h"

#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/dependency.h"
#include "catalog/indexing.h"
#include "catalog/pg_authid.h"
#include "catalog/pg_publication.h"
#include "catalog/pg_subscription.h"
#include "commands/dbcommands.h"
#include "fmgr.h"
#include "libpq/auth.h"
#include "libpq/libpq-be.h"
#include "libpq-fe.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "tcop/utility.h"
#include "utils/acl.h"
#include "utils/builtins.h"
#include "utils/guc.h"
#include "utils/rel.h"
#include "utils/syscache.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static ProcessUtility_hook_type prev_process_utility = NULL;
static ClientAuthentication_hook_type prev_client_auth = NULL;

/* rds.force_ssl, shown as RDS shows it: 0 or 1. */
static int	force_ssl = 0;
static const struct config_enum_entry force_ssl_options[] = {
	{"0", 0, false}, {"1", 1, false},
	{"off", 0, true}, {"on", 1, true}, {"false", 0, true}, {"true", 1, true},
	{NULL, 0, false}
};

/* refuse_plain refuses a TCP connection without TLS while rds.force_ssl is 1. */
static void
refuse_plain(Port *port, int status)
{
	if (prev_client_auth)
		prev_client_auth(port, status);
	if (force_ssl == 0 || port->raddr.addr.ss_family == AF_UNIX || port->ssl_in_use)
		return;
	ereport(FATAL,
			(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
			 errmsg("no pg_hba.conf entry for host \"%s\", user \"%s\", database \"%s\", no encryption",
					port->remote_host, port->user_name, port->database_name)));
}

static void
next_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					 ProcessUtilityContext context, ParamListInfo params,
					 QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	if (prev_process_utility)
		prev_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	else
		standard_ProcessUtility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
}

/* has_role: whether roleid has the privileges of the role named name (false when it does not exist). */
static bool
has_role(Oid roleid, const char *name)
{
	Oid			role = get_role_oid(name, true);

	return OidIsValid(role) && has_privs_of_role(roleid, role);
}

/* escalates: whether the current user is a non-superuser member of rds_superuser outside a restricted operation. */
static bool
escalates(void)
{
	Oid			user = GetUserId();

	return !superuser() && !InSecurityRestrictedOperation() && has_role(user, "rds_superuser");
}

/*
 * check_conninfo refuses, for a non-superuser, a subscription connection string that could reach
 * a server without a password: no password, a Unix socket host (or none: the default is a
 * socket), or a service file that could name one.
 */
static void
check_conninfo(const char *conninfo)
{
	char	   *err = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &err);
	bool		password = false;
	bool		tcp = false;
	const char *socket = NULL;

	if (opts == NULL)
	{
		char	   *msg = err ? pstrdup(err) : "out of memory";

		if (err)
			PQfreemem(err);
		ereport(ERROR, (errcode(ERRCODE_SYNTAX_ERROR), errmsg("invalid connection string syntax: %s", msg)));
	}
	for (PQconninfoOption *o = opts; o->keyword != NULL; o++)
	{
		if (o->val == NULL || o->val[0] == '\0')
			continue;
		if (strcmp(o->keyword, "password") == 0)
			password = true;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			tcp = true;
		else if (strcmp(o->keyword, "host") == 0)
		{
			char	   *hosts = pstrdup(o->val);
			char	   *h;

			tcp = true;
			for (h = strtok(hosts, ","); h != NULL; h = strtok(NULL, ","))
				if (h[0] == '/' || h[0] == '@')
					socket = pstrdup(h);
		}
		else if (strcmp(o->keyword, "service") == 0 || strcmp(o->keyword, "servicefile") == 0)
			socket = "a service file";
	}
	PQconninfoFree(opts);
	if (!password)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("password is required"),
				 errdetail("Non-superusers must provide a password in the connection string.")));
	if (socket != NULL || !tcp)
		ereport(ERROR,
				(errcode(ERRCODE_S_R_E_PROHIBITED_SQL_STATEMENT_ATTEMPTED),
				 errmsg("a subscription of a non-superuser must connect over TCP"),
				 errdetail("The connection string names %s; name the publisher with host=<address> port=<port>.",
						   socket != NULL ? socket : "no host (the default is a Unix socket)")));
}

/*
 * give makes owner the owner of tup, a copy of the catalog row of class classid for object objid
 * that ownerp points into, and its dependency on its owner.
 */
static void
give(Oid classid, HeapTuple tup, Oid *ownerp, Oid objid, Oid owner)
{
	Relation	rel = table_open(classid, RowExclusiveLock);

	*ownerp = owner;
	CatalogTupleUpdate(rel, &tup->t_self, tup);
	changeDependencyOnOwner(classid, objid, owner);
	heap_freetuple(tup);
	table_close(rel, RowExclusiveLock);
}

/* give_made gives the subscription or publication name, made just now, to owner. */
static void
give_made(bool subscription, const char *name, Oid owner)
{
	HeapTuple	tup = subscription
		? SearchSysCacheCopy2(SUBSCRIPTIONNAME, ObjectIdGetDatum(MyDatabaseId), CStringGetDatum(name))
		: SearchSysCacheCopy1(PUBLICATIONNAME, CStringGetDatum(name));

	if (!HeapTupleIsValid(tup))
		elog(ERROR, "rds_allowances: %s \"%s\" not found after creating it", subscription ? "subscription" : "publication", name);
	if (subscription)
	{
		Form_pg_subscription form = (Form_pg_subscription) GETSTRUCT(tup);

		give(SubscriptionRelationId, tup, &form->subowner, form->oid, owner);
	}
	else
	{
		Form_pg_publication form = (Form_pg_publication) GETSTRUCT(tup);

		give(PublicationRelationId, tup, &form->pubowner, form->oid, owner);
	}
}

/* set_replication sets roleid's REPLICATION attribute in the catalog. */
static void
set_replication(Relation rel, Oid roleid, bool on)
{
	HeapTuple	copy = SearchSysCacheCopy1(AUTHOID, ObjectIdGetDatum(roleid));

	if (!HeapTupleIsValid(copy))
		return;
	((Form_pg_authid) GETSTRUCT(copy))->rolreplication = on;
	CatalogTupleUpdate(rel, &copy->t_self, copy);
	heap_freetuple(copy);
}

/* replication_is_ours: whether roleid is a non-superuser whose REPLICATION comes from rds_replication. */
static bool
replication_is_ours(Oid roleid)
{
	Oid			repl = get_role_oid("rds_replication", true);
	HeapTuple	tup = SearchSysCache1(AUTHOID, ObjectIdGetDatum(roleid));
	bool		ours = false;

	if (HeapTupleIsValid(tup))
	{
		Form_pg_authid role = (Form_pg_authid) GETSTRUCT(tup);

		ours = !role->rolsuper && role->rolreplication && OidIsValid(repl) && has_privs_of_role(roleid, repl);
		ReleaseSysCache(tup);
	}
	return ours;
}

/* names_replication: whether ALTER ROLE's options name REPLICATION or NOREPLICATION. */
static bool
names_replication(List *options)
{
	ListCell   *lc;

	foreach(lc, options)
		if (strcmp(((DefElem *) lfirst(lc))->defname, "isreplication") == 0)
			return true;
	return false;
}

static void
sync_replication(bool grant)
{
	Oid			repl = get_role_oid("rds_replication", true);
	Relation	rel;
	TableScanDesc scan;
	HeapTuple	tup;
	List	   *change = NIL;
	ListCell   *lc;

	if (!OidIsValid(repl))
		return;
	CommandCounterIncrement();	/* see the membership the statement just changed */
	rel = table_open(AuthIdRelationId, RowExclusiveLock);
	scan = table_beginscan_catalog(rel, 0, NULL);
	while ((tup = heap_getnext(scan, ForwardScanDirection)) != NULL)
	{
		Form_pg_authid role = (Form_pg_authid) GETSTRUCT(tup);
		bool		member;

		if (role->rolsuper || !role->rolcanlogin || role->rolreplication == grant)
			continue;
		member = has_privs_of_role(role->oid, repl);
		if (member == grant)
			change = lappend_oid(change, role->oid);
	}
	table_endscan(scan);
	foreach(lc, change)
		set_replication(rel, lfirst_oid(lc), grant);
	table_close(rel, RowExclusiveLock);
	if (change != NIL)
		CommandCounterIncrement();
}

static void
rds_process_utility(PlannedStmt *pstmt, const char *queryString, bool readOnlyTree,
					ProcessUtilityContext context, ParamListInfo params,
					QueryEnvironment *queryEnv, DestReceiver *dest, QueryCompletion *qc)
{
	Node	   *stmt = pstmt->utilityStmt;
	const char *subscription = NULL;
	const char *publication = NULL;
	Oid			caller;
	int			sec;

	switch (nodeTag(stmt))
	{
		case T_CreateSubscriptionStmt:
			if (escalates())
			{
				check_conninfo(((CreateSubscriptionStmt *) stmt)->conninfo);
				subscription = pstrdup(((CreateSubscriptionStmt *) stmt)->subname);
			}
			break;
		case T_AlterSubscriptionStmt:
			if (((AlterSubscriptionStmt *) stmt)->kind == ALTER_SUBSCRIPTION_CONNECTION && !superuser())
				check_conninfo(((AlterSubscriptionStmt *) stmt)->conninfo);
			break;
		case T_CreatePublicationStmt:
			if (((CreatePublicationStmt *) stmt)->for_all_tables && escalates())
			{
				if (pg_database_aclcheck(MyDatabaseId, GetUserId(), ACL_CREATE) != ACLCHECK_OK)
					aclcheck_error(ACLCHECK_NO_PRIV, OBJECT_DATABASE, get_database_name(MyDatabaseId));
				publication = pstrdup(((CreatePublicationStmt *) stmt)->pubname);
			}
			break;
		case T_AlterRoleStmt:
			{
				AlterRoleStmt *alter = (AlterRoleStmt *) stmt;
				Oid			target = get_rolespec_oid(alter->role, true);

				if (superuser() || !OidIsValid(target) || names_replication(alter->options) || !replication_is_ours(target))
					break;
				{
					Relation	rel = table_open(AuthIdRelationId, RowExclusiveLock);

					set_replication(rel, target, false);
					table_close(rel, RowExclusiveLock);
				}
				CommandCounterIncrement();
				next_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
				sync_replication(true);
				return;
			}
		case T_GrantRoleStmt:
		case T_CreateRoleStmt:
			next_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
			sync_replication(!IsA(stmt, GrantRoleStmt) || ((GrantRoleStmt *) stmt)->is_grant);
			return;
		default:
			break;
	}
	if (subscription == NULL && publication == NULL)
	{
		next_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
		return;
	}
	GetUserIdAndSecContext(&caller, &sec);
	SetUserIdAndSecContext(BOOTSTRAP_SUPERUSERID, sec | SECURITY_LOCAL_USERID_CHANGE);
	PG_TRY();
	{
		next_process_utility(pstmt, queryString, readOnlyTree, context, params, queryEnv, dest, qc);
	}
	PG_FINALLY();
	{
		SetUserIdAndSecContext(caller, sec);
	}
	PG_END_TRY();
	CommandCounterIncrement();	/* see the object the statement just made */
	give_made(subscription != NULL, subscription != NULL ? subscription : publication, caller);
}

void
_PG_init(void)
{
	prev_process_utility = ProcessUtility_hook;
	ProcessUtility_hook = rds_process_utility;
	DefineCustomEnumVariable("rds.force_ssl", "Force SSL connections.", NULL, &force_ssl, 0, force_ssl_options,
							 PGC_SIGHUP, 0, NULL, NULL, NULL);
	prev_client_auth = ClientAuthentication_hook;
	ClientAuthentication_hook = refuse_plain;
}
