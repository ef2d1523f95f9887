"""The two roles that make row-level security honest, and their privileges.

PostgreSQL skips row-level security for superusers, for roles with ``BYPASSRLS`` and, unless
a table says ``FORCE ROW LEVEL SECURITY``, for the table's owner. So an application needs two
roles: an *owner* that runs migrations and owns the tables, and an *application* role that
serves requests and owns nothing. These helpers create both and give the application role
exactly the data privileges it needs. They take a psycopg connection, not a Django one,
because the embedded server and the test set-up need them before Django's settings exist.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from psycopg import Connection as _PsycopgConnection
from psycopg import errors
from psycopg import sql as pgsql

# A psycopg connection (tuple rows): these functions run outside Django's connections.
Connection = _PsycopgConnection[Any]
# A statement psycopg runs as it is (quoted names and literals composed in).
Statement = pgsql.SQL | pgsql.Composed

ROLE_LOCK = "prodpatterns.roles"  # advisory lock key: one role change at a time
AUDIT_LOG = "prodpatterns_auditlog"  # the audit log's table


@dataclass(frozen=True)
class Role:
    """A login role: its name, password, and whether it may create databases."""

    name: str
    password: str | None = None
    createdb: bool = False
    bypassrls: bool = False

    def options_sql(self) -> pgsql.Composable:
        """The role's attributes; the password only when one is set."""
        options = pgsql.SQL("LOGIN NOSUPERUSER {bypass} NOCREATEROLE {createdb}").format(
            bypass=pgsql.SQL("BYPASSRLS" if self.bypassrls else "NOBYPASSRLS"),
            createdb=pgsql.SQL("CREATEDB" if self.createdb else "NOCREATEDB"),
        )
        if self.password is not None:
            options = pgsql.SQL("{} PASSWORD {}").format(options, pgsql.Literal(self.password))
        return options


# The three roles' default names (and passwords, for the embedded development server):
# `prodpatterns setup` falls back to them for an alias whose USER is not set, and the
# embedded server creates them.
OWNER_ROLE = Role("prodpatterns_owner", "prodpatterns_owner", createdb=True)
APP_ROLE = Role("prodpatterns_app", "prodpatterns_app")
CROSS_TENANT_ROLE = Role("prodpatterns_admin", "prodpatterns_admin", bypassrls=True)


def role_differences(conn: Connection, role: Role) -> list[str] | None:
    """What differs between ``role`` and the role of that name on ``conn``'s server.

    ``None`` when no such role exists, ``[]`` when it matches: what :func:`ensure_role`
    would set (LOGIN, NOSUPERUSER, NOCREATEROLE, BYPASSRLS, CREATEDB and, when ``role``
    has one, the password). Lets a set-up say "nothing to change" instead of rewriting a
    role on every run. Reads ``pg_authid`` (the password verifier), so it needs a superuser.
    """
    row = conn.execute(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolbypassrls, rolcreatedb, rolpassword"
        " FROM pg_catalog.pg_authid WHERE rolname = %s",
        [role.name],
    ).fetchone()
    if row is None:
        return None
    login, superuser, createrole, bypassrls, createdb, stored = row
    wanted = {
        "LOGIN": (login, True),
        "NOSUPERUSER": (superuser, False),
        "NOCREATEROLE": (createrole, False),
        "BYPASSRLS" if role.bypassrls else "NOBYPASSRLS": (bypassrls, role.bypassrls),
        "CREATEDB" if role.createdb else "NOCREATEDB": (createdb, role.createdb),
    }
    differences = [name for name, (actual, expected) in wanted.items() if actual != expected]
    if role.password is not None and not password_matches(stored, role.name, role.password):
        differences.append("PASSWORD")
    return differences


def password_matches(stored: str | None, name: str, password: str) -> bool:
    """Whether PostgreSQL's stored verifier ``stored`` (``pg_authid.rolpassword``) accepts
    ``password`` for role ``name``.

    PostgreSQL keeps only a SCRAM-SHA-256 (or legacy MD5) verifier, never the password, so
    the only way to know that a configured password is already in place without logging in
    (which pg_hba may not allow from here) is to derive the verifier again. A password
    that needs SASLprep normalisation may be reported as different: it is then set again,
    which is harmless.
    """
    if not stored:
        return False
    if stored.startswith("md5"):
        digest = hashlib.md5((password + name).encode(), usedforsecurity=False).hexdigest()
        return hmac.compare_digest(stored, "md5" + digest)
    try:
        method, params, keys = stored.split("$")
        iterations, salt = params.split(":")
        stored_key = keys.split(":")[0]
        if method != "SCRAM-SHA-256":
            return False
        salted = hashlib.pbkdf2_hmac(
            "sha256", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:  # a verifier of a shape this code does not know
        return False
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    expected = base64.b64encode(hashlib.sha256(client_key).digest()).decode()
    return hmac.compare_digest(stored_key, expected)


def ensure_role(conn: Connection, role: Role) -> None:
    """Create ``role`` (or bring it in line): LOGIN, NOSUPERUSER, NOCREATEROLE.

    BYPASSRLS only for a role that says so (the cross-tenant role; granting it needs a
    superuser). Safe to run concurrently with another process doing the same through the
    same database: two ``ALTER ROLE`` of one role at once fail in PostgreSQL ("tuple
    concurrently updated"), so callers take turns under a transaction-scoped advisory lock
    (advisory locks are per database, roles per cluster).
    """
    options = role.options_sql()
    name = pgsql.Identifier(role.name)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [ROLE_LOCK])
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role.name]).fetchone()
        verb = "ALTER" if exists else "CREATE"
        conn.execute(pgsql.SQL(verb + " ROLE {} {}").format(name, options))


def grant_statements(
    app_role: str, schema: str = "public", owner: str | None = None
) -> list[Statement]:
    """Data privileges (never DDL) for ``app_role`` on ``schema``'s tables and sequences.

    Covers what exists and, through default privileges, what ``owner`` (the current role
    when None) creates later. Deliberately not granted: writing the audit log (only the
    capture path does, as its owner) and reading sequences (``last_value`` counts every
    tenant's inserts; ``nextval`` needs USAGE only).
    """
    ident = pgsql.Identifier
    for_role = pgsql.SQL(" FOR ROLE {}").format(ident(owner)) if owner else pgsql.SQL("")
    statements = [
        "GRANT USAGE ON SCHEMA {schema} TO {role}",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        "REVOKE SELECT ON ALL SEQUENCES IN SCHEMA {schema} FROM {role}",
        "ALTER DEFAULT PRIVILEGES{for_role} IN SCHEMA {schema}"
        " GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        "ALTER DEFAULT PRIVILEGES{for_role} IN SCHEMA {schema} GRANT USAGE ON SEQUENCES TO {role}",
        "ALTER DEFAULT PRIVILEGES{for_role} IN SCHEMA {schema}"
        " REVOKE SELECT ON SEQUENCES FROM {role}",
    ]
    composed = [
        pgsql.SQL(statement).format(schema=ident(schema), role=ident(app_role), for_role=for_role)
        for statement in statements
    ]
    return [*composed, _revoke_log_writes(app_role, schema)]


def _revoke_log_writes(app_role: str, schema: str) -> Statement:
    """Take back what the blanket grant gave on the audit log, when the log exists."""
    log = pgsql.SQL("{}.{}").format(pgsql.Identifier(schema), pgsql.Identifier(AUDIT_LOG))
    revoke = pgsql.SQL("REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON {} FROM {}").format(
        log, pgsql.Identifier(app_role)
    )
    name = pgsql.Literal(pgsql.Identifier(schema).as_string(None) + "." + AUDIT_LOG)
    body = pgsql.SQL(
        "BEGIN IF pg_catalog.to_regclass({name}) IS NOT NULL THEN EXECUTE {revoke}; END IF; END"
    ).format(name=name, revoke=pgsql.Literal(revoke.as_string(None)))
    # The body as a literal, not dollar-quoted: no role name can end it early.
    return pgsql.SQL("DO {}").format(pgsql.Literal(body.as_string(None)))


def privileges_snapshot(conn: Connection, schema: str = "public") -> tuple[Any, ...]:
    """Everything :func:`grant_statements` can change in ``schema``, as comparable values.

    The schema's ACL, the ACL of each of its tables and sequences, and the default
    privileges. Taken before and after running the grants in one transaction, it tells
    whether they changed anything (so the caller can roll back and report "nothing to
    change") without a second, hand-written model of what the grants should produce.
    """
    row = conn.execute(
        "SELECT"
        " (SELECT nspacl::text FROM pg_catalog.pg_namespace WHERE nspname = %(schema)s),"
        " (SELECT array_agg(c.oid::text || ':' || coalesce(c.relacl::text, '') ORDER BY c.oid)"
        "  FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
        "  WHERE n.nspname = %(schema)s AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')),"
        " (SELECT array_agg(d.oid::text || ':' || d.defaclacl::text ORDER BY d.oid)"
        "  FROM pg_catalog.pg_default_acl d)",
        {"schema": schema},
    ).fetchone()
    assert row is not None  # one row: a SELECT without FROM
    return tuple(row)


def grant_app_privileges(
    conn: Connection, app_role: str, schema: str = "public", owner: str | None = None
) -> None:
    """Run :func:`grant_statements` on a psycopg connection."""
    for statement in grant_statements(app_role, schema, owner):
        conn.execute(statement)


def database_owner(conn: Connection, name: str) -> str | None:
    """The owner of database ``name``, or ``None`` when there is no such database."""
    row = conn.execute(
        "SELECT pg_catalog.pg_get_userbyid(datdba) FROM pg_catalog.pg_database WHERE datname = %s",
        [name],
    ).fetchone()
    return row[0] if row else None


def ensure_database(conn: Connection, name: str, owner: str) -> None:
    """Create database ``name`` owned by ``owner`` unless it exists (needs autocommit)."""
    if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
        return
    with suppress(errors.DuplicateDatabase):  # another process may have created it first
        conn.execute(
            pgsql.SQL("CREATE DATABASE {} OWNER {}").format(
                pgsql.Identifier(name), pgsql.Identifier(owner)
            )
        )
