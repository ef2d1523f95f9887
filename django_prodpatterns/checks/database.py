"""Checks on settings and on the database connection: E001, E002, E004, W001, W002, W004."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.utils import load_backend

from ..conf import SETTINGS_NAME, app_settings, validate
from ..context import audit_context
from ..db import signing
from .citus import propagation_messages
from .inventory import tenant_models

_ROLE_SQL = """
    SELECT current_user, r.rolsuper, r.rolbypassrls,
           EXISTS (SELECT 1 FROM pg_class c
                   JOIN pg_namespace n ON n.oid = c.relnamespace
                   WHERE c.relrowsecurity
                     AND n.nspname NOT IN ('pg_catalog', 'information_schema'))
    FROM pg_roles r WHERE r.rolname = current_user
"""


# What the application role can do that lets one request reach past its tenant or the
# audit trail: each column names a privilege it should not have.
_PRIVILEGES_SQL = """
    SELECT
        has_database_privilege(current_user, current_database(), 'TEMPORARY'),
        ARRAY(SELECT n.nspname::text FROM pg_catalog.pg_namespace AS n
              WHERE n.nspname = ANY(current_schemas(false))
                AND has_schema_privilege(current_user, n.oid, 'CREATE')
              ORDER BY 1),
        coalesce(has_table_privilege(
            current_user,
            to_regclass(quote_ident(current_schema()) || '.prodpatterns_auditlog'),
            'INSERT,UPDATE,DELETE,TRUNCATE'
        ), false),
        EXISTS (SELECT 1 FROM pg_catalog.pg_class AS c
                JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
                WHERE c.relkind = 'S' AND n.nspname = ANY(current_schemas(false))
                  AND has_sequence_privilege(current_user, c.oid, 'SELECT'))
"""


@register()
def check_settings(app_configs: Sequence[AppConfig] | None = None, **kwargs: object) -> list[Error]:
    """E002: every ``PRODPATTERNS`` key is known and every value has the right shape."""
    problems = validate(getattr(settings, SETTINGS_NAME, {}))
    return [
        Error(
            problem,
            hint="See DEFAULTS in django_prodpatterns/conf.py for the settings and their types.",
            obj=SETTINGS_NAME,
            id="prodpatterns.E002",
        )
        for problem in problems
    ]


@register(Tags.database)
def check_database_vendor(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: object,
) -> list[Warning]:
    """W001: row-level security and audit triggers exist only on PostgreSQL.

    Reads settings only (no connection), so it also looks at the default database when no
    database is named.
    """
    messages = []
    for alias in databases if databases is not None else [DEFAULT_DB_ALIAS]:
        connection = connections[alias]
        if connection.vendor != "postgresql":
            messages.append(
                Warning(
                    f"Database {alias!r} is {connection.display_name}, not PostgreSQL: "
                    "row-level security and the audit trail are unavailable on it.",
                    hint="Timestamps, soft delete, optimistic locking and pagination still "
                    "work; point the database at PostgreSQL 14+ for tenant isolation and "
                    "auditing.",
                    obj=alias,
                    id="prodpatterns.W001",
                )
            )
    return messages


def project_has_tenant_models() -> bool:
    """True when any installed concrete model is tenant-scoped."""

    return bool(tenant_models())


def role_messages(alias: str, relies_on_rls: bool) -> list[Error | Warning]:
    """E001/W002 for the role that ``alias`` connects as (and E004/W004 when it is neither
    a superuser nor BYPASSRLS).

    Args:
        alias: A PostgreSQL database alias.
        relies_on_rls: Whether isolation depends on row-level security already (an error)
            or not yet (a warning).
    """
    with connections[alias].cursor() as cursor:
        cursor.execute(_ROLE_SQL)
        row = cursor.fetchone()
    role, is_superuser, bypasses_rls, _ = row
    if not (is_superuser or bypasses_rls):
        return [
            *context_messages(alias),
            *privilege_messages(alias, role),
            *propagation_messages(alias),
        ]
    return bypass_messages(alias, row, relies_on_rls)


def bypass_messages(alias: str, row: Any, relies_on_rls: bool) -> list[Error | Warning]:
    """E001/W002 from a row of ``_ROLE_SQL``; empty when the role is subject to row-level
    security.

    Split from :func:`role_messages` because the default alias is also judged from a
    connection of its own (:func:`check_default_database_role`), not only through Django's.
    """
    role, is_superuser, bypasses_rls, has_rls_tables = row
    if not (is_superuser or bypasses_rls):
        return []
    why = "is a superuser" if is_superuser else "has BYPASSRLS"
    hint = (
        "Connect the application as a role with NOSUPERUSER NOBYPASSRLS that does not own "
        "the tables; run migrations through a separate owner alias "
        "(PRODPATTERNS['OWNER_DATABASE'])."
    )
    if relies_on_rls or has_rls_tables:
        return [
            Error(
                f"Database {alias!r} connects as {role!r}, which {why}: PostgreSQL skips "
                "row-level security for it, so every tenant's rows are visible and writable.",
                hint=hint,
                obj=alias,
                id="prodpatterns.E001",
            )
        ]
    return [
        Warning(
            f"Database {alias!r} connects as {role!r}, which {why}: row-level security would "
            "be silently bypassed once the project has tenant models.",
            hint=hint,
            obj=alias,
            id="prodpatterns.W002",
        )
    ]


def context_messages(alias: str) -> list[Error]:
    """E004: the database refuses the signed context this project sends.

    Its key is derived from ``SECRET_KEY`` and written by ``migrate``; a project whose
    ``SECRET_KEY`` changed since, or a database migrated by another project, refuses every
    context, and every tenant query returns nothing.
    """
    with connections[alias].cursor() as cursor:
        cursor.execute("SELECT to_regprocedure('prodpatterns_verified_context()') IS NOT NULL")
        (installed,) = cursor.fetchone()
        if not installed:
            return []  # not migrated yet: Django reports unapplied migrations
        try:
            with audit_context(reason="prodpatterns.E004"):
                cursor.execute("SELECT prodpatterns_verified_context() IS NOT NULL")
                (accepted,) = cursor.fetchone()
        except DatabaseError as error:
            if not signing.is_refusal(error):
                raise
            accepted = False
    if accepted:
        return []
    return [
        Error(
            f"Database {alias!r} refuses the tenant and audit context this project signs: "
            "every tenant query returns no rows and audit entries lose their actor.",
            hint="The key is derived from SECRET_KEY and written by `manage.py migrate` (run "
            "it through the owner alias after changing SECRET_KEY).",
            obj=alias,
            id="prodpatterns.E004",
        )
    ]


def privilege_messages(alias: str, role: str) -> list[Warning]:
    """W004: privileges of the application role that undo isolation or the audit trail."""
    with connections[alias].cursor() as cursor:
        cursor.execute(_PRIVILEGES_SQL)
        temporary, creatable, writes_log, reads_sequences = cursor.fetchone()
    found = []
    if temporary:
        found.append(
            "can create temporary tables, which are searched before the application's "
            "tables: one request's table can stand in for a tenant table in a later request "
            "on the same connection (REVOKE TEMPORARY ON DATABASE <name> FROM PUBLIC, run by "
            "the database owner)"
        )
    if creatable:
        found.append(
            f"can create objects in {', '.join(creatable)} (REVOKE CREATE ON SCHEMA ... "
            "FROM PUBLIC)"
        )
    if writes_log:
        found.append(
            "can write the audit log directly, so it can forge entries (migrate "
            "django_prodpatterns, and grant with `manage.py prodpatterns roles`)"
        )
    if reads_sequences:
        found.append(
            "can read sequences, whose last_value counts every tenant's rows (REVOKE "
            "SELECT ON ALL SEQUENCES IN SCHEMA ... FROM <role>; nextval needs USAGE only)"
        )
    return [
        Warning(
            f"Database {alias!r} connects as {role!r}, which {problem}.",
            hint="The application role needs data privileges only; `manage.py prodpatterns "
            "roles` prints the grants it should have.",
            obj=alias,
            id="prodpatterns.W004",
        )
        for problem in found
    ]


def privileged_aliases() -> set[str]:
    """The owner and cross-tenant aliases, which may own the tables or bypass row-level
    security by design.

    Read leniently: a malformed ``PRODPATTERNS`` is reported by E002, and must not turn the
    other checks into a traceback.
    """
    user_settings = app_settings.user_settings()
    if not isinstance(user_settings, Mapping):
        return set()
    return {
        value
        for value in (user_settings.get("OWNER_DATABASE"), user_settings.get("ADMIN_DATABASE"))
        if isinstance(value, str)
    }


@register(Tags.database)
def check_database_roles(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: object,
) -> list[Error | Warning]:
    """E001/W002 for every named PostgreSQL database, except the owner alias and the
    cross-tenant one (``ADMIN_DATABASE``)."""
    if not databases:
        return []
    privileged = privileged_aliases()
    relies_on_rls = project_has_tenant_models()
    named = named_aliases(databases)
    messages: list[Error | Warning] = []
    for alias in databases:
        if alias in privileged or connections[alias].vendor != "postgresql":
            continue
        if alias == DEFAULT_DB_ALIAS and alias not in named:
            continue  # check_default_database_role says it
        messages.extend(role_messages(alias, relies_on_rls))
    return messages


def named_aliases(databases: Iterable[str] | None) -> set[str]:
    """The aliases a command named with ``--database`` (or ``migrate`` with its alias).

    Django 5.2 hands checks ``None`` when none was named; from 6.1 on it hands every
    alias instead. Every alias is taken as none named, so the default alias's role is
    reported exactly once, by one of the two checks, on every version.
    """
    if databases is None:
        return set()
    named = set(databases)
    return set() if named == set(connections) else named


# Seconds the default alias's role check waits for a server that does not answer, unless
# the alias's OPTIONS set connect_timeout themselves (libpq's minimum is 2).
PROBE_CONNECT_TIMEOUT = 5


@register()  # not Tags.database: Django 6.1 skips those unless --database names an alias
def check_default_database_role(
    app_configs: Sequence[AppConfig] | None = None,
    databases: Iterable[str] | None = None,
    **kwargs: object,
) -> list[Error | Warning]:
    """E001/W002 for the default alias on every check, not only with ``--database``.

    The default alias is the one requests use, and a superuser there turns tenant isolation
    off. Django hands database-tagged checks only the aliases named with ``--database``, so
    plain ``check`` and ``runserver`` named none, and ``migrate`` names only the alias it
    migrates (the owner's): without this, the mistake was reported by nobody. For the same
    reason it carries no ``database`` tag: from Django 6.1 on, a database-tagged check does
    not run at all unless ``--database`` names an alias.

    It runs on a short-lived connection of its own, so it neither touches the state of the
    alias's connection nor leaves one open; a server that is down or unreachable makes it
    say nothing (the command that needs the database reports that), after at most
    :data:`PROBE_CONNECT_TIMEOUT` seconds.
    """
    if DEFAULT_DB_ALIAS in named_aliases(databases):
        return []  # check_database_roles reports it, with the other role checks
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor != "postgresql" or DEFAULT_DB_ALIAS in privileged_aliases():
        return []
    row = probe_role(connection.settings_dict)
    if row is None:
        return []
    return bypass_messages(DEFAULT_DB_ALIAS, row, project_has_tenant_models())


def probe_role(settings_dict: Mapping[str, Any]) -> Any:
    """A row of ``_ROLE_SQL`` from a new connection made with ``settings_dict``, closed
    again at once; None when no connection can be made.

    A separate connection because checks run where the alias's own connection must not
    change (inside a test's transaction, in ``runserver`` before it serves), and with a
    connect timeout because libpq, left to itself, waits for an unreachable host for
    minutes. A connection pool in OPTIONS is left out: one connection is all it needs.
    """
    options = {key: value for key, value in settings_dict["OPTIONS"].items() if key != "pool"}
    options.setdefault("connect_timeout", PROBE_CONNECT_TIMEOUT)
    entry = {**settings_dict, "OPTIONS": options}
    probe = load_backend(entry["ENGINE"]).DatabaseWrapper(entry, DEFAULT_DB_ALIAS)
    try:
        with probe.cursor() as cursor:
            cursor.execute(_ROLE_SQL)
            return cursor.fetchone()
    except DatabaseError:
        return None
    finally:
        probe.close()
