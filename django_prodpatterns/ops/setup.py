"""``prodpatterns setup`` and ``prodpatterns roles``: the roles, the database and the grants,
named by the project's own ``DATABASES`` and ``PRODPATTERNS``.

Row-level security only holds when requests connect as a role that is neither a superuser,
nor BYPASSRLS, nor the tables' owner. A project already says which roles it uses: the
``USER`` of the default alias serves requests, the ``USER`` of
``PRODPATTERNS["OWNER_DATABASE"]`` owns the tables, the ``USER`` of
``PRODPATTERNS["ADMIN_DATABASE"]`` is the cross-tenant role. Reading the names (and
passwords) from there means nobody types them, or SQL, a second time.

The statements themselves come from :mod:`django_prodpatterns.ops.roles`; this module
decides which of them a server still needs, so that a second run changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS
from psycopg import sql as pgsql

from ..conf import app_settings
from .citus import PROPAGATE_SETTING, configure_role, configure_statement, is_configured
from .roles import (
    APP_ROLE,
    CROSS_TENANT_ROLE,
    OWNER_ROLE,
    Connection,
    Role,
    Statement,
    database_owner,
    ensure_database,
    ensure_role,
    grant_app_privileges,
    grant_statements,
    privileges_snapshot,
    role_differences,
)

OWNER, APP, CROSS_TENANT = "owner", "application", "cross-tenant"
FALLBACK_NAMES = {OWNER: OWNER_ROLE.name, APP: APP_ROLE.name, CROSS_TENANT: CROSS_TENANT_ROLE.name}
DOCS = "docs/setup.md"

# Printed SQL gets pasted into psql: a line break inside a comment would end the comment
# and start a statement, so every character str.splitlines() breaks at is shown escaped.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


class SetupError(Exception):
    """One sentence saying what is wrong and what to do; the command shows it as is."""


def sql_comment(text: str) -> str:
    """``text`` as one SQL comment line, whatever characters it holds."""
    return f"-- {text.translate(_LINE_BREAKS)}"


def sql_text(statement: pgsql.Composable) -> str:
    """A statement as psycopg quotes it, without a connection (``--print`` never connects)."""
    return f"{statement.as_string(None)};"


def role_aliases(prodpatterns: Mapping[str, Any]) -> dict[str, str | None]:
    """Which alias names each role.

    Without ``OWNER_DATABASE`` the default alias owns the tables (what ``conf.DEFAULTS``
    says), so no alias names the application role then.
    """
    owner_alias = prodpatterns.get("OWNER_DATABASE") or DEFAULT_DB_ALIAS
    return {
        APP: DEFAULT_DB_ALIAS if owner_alias != DEFAULT_DB_ALIAS else None,
        OWNER: owner_alias,
        CROSS_TENANT: prodpatterns.get("ADMIN_DATABASE"),
    }


def role_names(
    databases: Mapping[str, Mapping[str, Any]], prodpatterns: Mapping[str, Any]
) -> dict[str, str]:
    """The role names the project configures, the historical defaults where it does not.

    Read from settings only, never from a connection: ``roles`` prints SQL for roles that
    may not exist yet, so it must not log in as them.
    """
    names = {}
    for kind, alias in role_aliases(prodpatterns).items():
        configured = databases.get(alias, {}).get("USER") if alias else None
        names[kind] = configured or FALLBACK_NAMES[kind]
    return names


@dataclass(frozen=True)
class Plan:
    """What ``setup`` makes true: the roles, one database owned by the owner, the grants."""

    owner: Role
    app: Role
    cross_tenant: Role | None
    database: str
    schema: str = "public"

    @property
    def roles(self) -> list[tuple[str, Role]]:
        kinds = [(APP, self.app), (OWNER, self.owner), (CROSS_TENANT, self.cross_tenant)]
        return [(kind, role) for kind, role in kinds if role is not None]

    @property
    def granted(self) -> list[Role]:
        """The roles that get data privileges on what the owner creates."""
        return [role for role in (self.app, self.cross_tenant) if role is not None]


def _is_postgresql(engine: str) -> bool:
    return engine.rsplit(".", 1)[-1] in ("postgresql", "postgis")


def plan_from_settings(
    databases: Mapping[str, Mapping[str, Any]],
    prodpatterns: Mapping[str, Any],
    *,
    for_tests: bool = False,
    schema: str = "public",
) -> Plan:
    """Read the plan from ``DATABASES`` and ``PRODPATTERNS``; :class:`SetupError` when they
    cannot describe three distinct PostgreSQL roles on one database."""
    aliases = role_aliases(prodpatterns)
    if aliases[APP] is None:
        raise SetupError(
            "setup needs PRODPATTERNS['OWNER_DATABASE']: the alias whose USER owns the "
            "tables and runs migrations, next to the default alias whose USER serves "
            f"requests (see {DOCS})."
        )
    entries = {}
    for kind, alias in aliases.items():
        if alias is None:
            continue
        if alias not in databases:
            raise SetupError(
                f"The {kind} alias {alias!r} is not in DATABASES: add it, or fix "
                "PRODPATTERNS['OWNER_DATABASE'] / ['ADMIN_DATABASE']."
            )
        entry = databases[alias]
        engine = entry.get("ENGINE", "")
        if not _is_postgresql(engine):
            raise SetupError(
                f"DATABASES[{alias!r}] uses ENGINE {engine!r}: setup needs PostgreSQL "
                "(ENGINE 'django.db.backends.postgresql')."
            )
        for key in ("USER", "NAME"):
            if not entry.get(key):
                raise SetupError(
                    f"DATABASES[{alias!r}] has no {key}: setup creates the {kind} role and "
                    "the database they name."
                )
        entries[kind] = (alias, entry)
    users: dict[str, str] = {}
    for _kind, (alias, entry) in entries.items():
        if entry["USER"] in users:
            raise SetupError(
                f"DATABASES[{users[entry['USER']]!r}] and DATABASES[{alias!r}] both connect "
                f"as {entry['USER']!r}: each role needs its own USER (the application role "
                "must own nothing and bypass nothing)."
            )
        users[entry["USER"]] = alias
    names = {entry["NAME"] for _alias, entry in entries.values()}
    if len(names) > 1:
        listed = ", ".join(f"{alias!r}: {entry['NAME']!r}" for alias, entry in entries.values())
        raise SetupError(f"The aliases name different databases ({listed}): use one NAME.")

    def role(kind: str, **attributes: bool) -> Role | None:
        if kind not in entries:
            return None
        entry = entries[kind][1]
        return Role(entry["USER"], entry.get("PASSWORD") or None, **attributes)

    owner, app = role(OWNER, createdb=for_tests), role(APP)
    assert owner is not None and app is not None  # both aliases were checked above
    return Plan(
        owner=owner,
        app=app,
        cross_tenant=role(CROSS_TENANT, bypassrls=True),
        database=names.pop(),
        schema=schema,
    )


def create_role_statement(role: Role) -> Statement:
    return pgsql.SQL("CREATE ROLE {} {}").format(pgsql.Identifier(role.name), role.options_sql())


def _owner_statement(plan: Plan) -> Statement:
    return pgsql.SQL("ALTER DATABASE {} OWNER TO {}").format(
        pgsql.Identifier(plan.database), pgsql.Identifier(plan.owner.name)
    )


def _grants(plan: Plan, role: Role) -> list[Statement]:
    return grant_statements(role.name, plan.schema, owner=plan.owner.name)


def script(plan: Plan) -> list[str]:
    """The SQL ``setup`` runs on a fresh server, as psql lines; no connection.

    On a server where some of it is true already, ``setup`` itself skips those parts; the
    script is for an operator who runs SQL by hand, as a superuser.
    """
    lines = [sql_comment("run as a superuser (psql); setup skips what already matches")]
    for kind, role in plan.roles:
        lines += [sql_comment(f"the {kind} role"), sql_text(create_role_statement(role))]
        if app_settings.citus:
            lines.append(sql_text(configure_statement(role.name)))
    create = pgsql.SQL("CREATE DATABASE {} OWNER {}").format(
        pgsql.Identifier(plan.database), pgsql.Identifier(plan.owner.name)
    )
    lines += [
        sql_comment(f"the database, owned by {plan.owner.name} (an existing one: the next line)"),
        sql_text(create),
        sql_comment(sql_text(_owner_statement(plan))),
        f"\\connect {pgsql.Identifier(plan.database).as_string(None)}",
    ]
    for role in plan.granted:
        lines.append(sql_comment(f"data privileges for {role.name} on what the owner creates"))
        lines += [sql_text(statement) for statement in _grants(plan, role)]
    return lines


@contextmanager
def _connect(url: str, **overrides: Any) -> Iterator[Connection]:
    """A superuser connection from ``url``; a refused one is a :class:`SetupError`."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        params = conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise SetupError(f"--superuser-url is not a PostgreSQL URL: {_first_line(exc)}") from exc
    where = f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}"
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10, **overrides)
    except psycopg.Error as exc:
        raise SetupError(
            f"Cannot connect to {where} with --superuser-url ({_first_line(exc)}): "
            "check the URL and that the server is running."
        ) from exc
    with conn:
        try:
            yield conn
        except psycopg.Error as exc:
            raise SetupError(f"setup stopped on the server: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _require_superuser(conn: Connection) -> None:
    row = conn.execute(
        "SELECT current_user, rolsuper FROM pg_catalog.pg_roles WHERE rolname = current_user"
    ).fetchone()
    assert row is not None  # current_user is a role
    user, superuser = row
    if not superuser:
        raise SetupError(
            f"The role {user!r} of --superuser-url is not a superuser: setup creates roles "
            "(one with BYPASSRLS) and hands the database over, so give a superuser's URL, or "
            "have one run the SQL of 'prodpatterns setup --print'."
        )


def _schema_changes(conn: Connection, plan: Plan) -> list[Statement]:
    """What makes the owner, and only the owner, able to create in the schema.

    PostgreSQL 15+ gives a new database's ``public`` schema to ``pg_database_owner``, so
    owning the database is enough; an older or upgraded cluster leaves it to the bootstrap
    superuser with CREATE for PUBLIC, which would let the application role create tables.
    """
    schema, owner = pgsql.Identifier(plan.schema), pgsql.Identifier(plan.owner.name)
    row = conn.execute(
        "SELECT pg_catalog.pg_get_userbyid(n.nspowner), EXISTS ("
        "  SELECT 1 FROM pg_catalog.aclexplode("
        "    coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) a"
        "  WHERE a.grantee = 0 AND a.privilege_type = 'CREATE')"
        " FROM pg_catalog.pg_namespace n WHERE n.nspname = %s",
        [plan.schema],
    ).fetchone()
    if row is None:
        return [pgsql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(schema, owner)]
    changes: list[Statement] = []
    if row[0] not in (plan.owner.name, "pg_database_owner"):
        changes.append(pgsql.SQL("ALTER SCHEMA {} OWNER TO {}").format(schema, owner))
    if row[1]:
        changes.append(pgsql.SQL("REVOKE CREATE ON SCHEMA {} FROM PUBLIC").format(schema))
    return changes


def apply(plan: Plan, superuser_url: str) -> list[str]:
    """Make ``plan`` true on the server of ``superuser_url``; return what changed (empty
    when everything matched already, and then nothing was written)."""
    import psycopg

    changes = []
    with _connect(superuser_url) as conn:
        _require_superuser(conn)
        for kind, role in plan.roles:
            differences = role_differences(conn, role)
            if differences == []:
                continue
            ensure_role(conn, role)
            if differences is None:
                changes.append(f"created the {kind} role {role.name}")
            else:
                changes.append(f"set {' '.join(differences)} on the {kind} role {role.name}")
        if app_settings.citus:
            changes += _citus_roles(conn, plan)
        current = database_owner(conn, plan.database)
        if current is None:
            ensure_database(conn, plan.database, plan.owner.name)
            changes.append(f"created database {plan.database} owned by {plan.owner.name}")
        elif current != plan.owner.name:
            conn.execute(_owner_statement(plan))
            changes.append(f"handed database {plan.database} from {current} to the owner")
    with _connect(superuser_url, dbname=plan.database) as conn:
        for statement in _schema_changes(conn, plan):
            conn.execute(statement)
            changes.append(sql_text(statement))
        for role in plan.granted:
            with conn.transaction() as tx:
                before = privileges_snapshot(conn, plan.schema)
                grant_app_privileges(conn, role.name, plan.schema, owner=plan.owner.name)
                if privileges_snapshot(conn, plan.schema) == before:
                    raise psycopg.Rollback(tx)
                changes.append(f"granted data privileges in {plan.schema} to {role.name}")
    return changes


def _citus_roles(conn: Connection, plan: Plan) -> list[str]:
    """Citus mode: every role forwards SET LOCAL to the workers (see ops/citus.py)."""
    changes = []
    for kind, role in plan.roles:
        if not is_configured(conn, role.name):
            configure_role(conn, role.name)
            changes.append(f"set {PROPAGATE_SETTING} = 'local' on the {kind} role {role.name}")
    return changes


def summary(plan: Plan) -> str:
    """The one line a run that changed nothing prints."""
    roles = ", ".join(role.name for _kind, role in plan.roles)
    return (
        f"Nothing to change: roles {roles}, database {plan.database} owned by "
        f"{plan.owner.name}, and the grants already match."
    )
