"""What a Citus cluster needs from the roles of :mod:`.roles`.

Citus forwards a transaction's ``SET LOCAL`` to the workers' sessions only for roles whose
``citus.propagate_set_commands`` is ``'local'``; without it the signed context never
reaches the shards, whose policies then admit nothing (fail closed, but no application
works). ``prodpatterns setup`` and the Citus test databases set it on every role the
application connects as; Citus propagates ``ALTER ROLE`` to the workers.
"""

from __future__ import annotations

from psycopg import sql as pgsql

from .roles import Connection, Statement

PROPAGATE_SETTING = "citus.propagate_set_commands"


def configure_statement(role: str) -> Statement:
    """What lets ``role``'s transactions forward ``SET LOCAL`` to the workers."""
    return pgsql.SQL("ALTER ROLE {} SET {} = 'local'").format(
        pgsql.Identifier(role), pgsql.SQL(PROPAGATE_SETTING)
    )


def is_configured(conn: Connection, role: str) -> bool:
    """Whether ``role`` forwards ``SET LOCAL`` (its own setting, in every database)."""
    row = conn.execute(
        "SELECT %s = ANY(coalesce(rolconfig, '{}')) FROM pg_catalog.pg_roles WHERE rolname = %s",
        [f"{PROPAGATE_SETTING}=local", role],
    ).fetchone()
    return bool(row and row[0])


def configure_role(conn: Connection, role: str) -> None:
    """Run :func:`configure_statement` for ``role``."""
    conn.execute(configure_statement(role))
