"""Hands the current context to PostgreSQL as transaction-local settings.

Every SQL statement Django sends on a PostgreSQL connection passes through
:func:`apply_context`, an execute wrapper installed when the connection opens. While a
:func:`~django_prodpatterns.context.tenant_context` or
:func:`~django_prodpatterns.context.audit_context` is active, the statement is sent as::

    SET LOCAL prodpatterns.tenant_id = '42'; SET LOCAL prodpatterns.actor_id = '7';
    SET LOCAL prodpatterns.context = '{...}'; <the statement>

(only the settings that have a value, plus, inside a transaction, those that had one
earlier in it)
in one query string, so it costs no extra round trip. A multi-statement query string runs
as one implicit transaction, so the settings hold in autocommit too, and inside a
transaction they are re-sent with every statement, which keeps them right after
``ROLLBACK TO SAVEPOINT`` and after a context change in the middle of a transaction.
Nothing is ever set at session level: on a persistent connection, a pool or PgBouncer in
transaction mode, the next transaction starts clean. PostgreSQL reports an expired custom
setting as ``''``, so policies and triggers read it with ``nullif(..., '')``.

Statements that cannot share a query string with others (``executemany``, named
server-side cursors, server-side parameter binding) get the settings as a separate
statement first, inside a short explicit transaction when the connection is in autocommit.
Statements that cannot run inside a transaction block (``CREATE INDEX CONCURRENTLY``,
``VACUUM``, ``CREATE DATABASE``, ...) and transaction control itself are passed through
untouched: none of them reads or writes rows.

Values are quoted by psycopg (``psycopg.sql.Literal``), never formatted in.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connections
from psycopg import sql as pgsql

from ..context import _current_audit, _current_tenant, key_of

TENANT_SETTING = "prodpatterns.tenant_id"
ACTOR_SETTING = "prodpatterns.actor_id"
CONTEXT_SETTING = "prodpatterns.context"
SETTING_NAMES = (TENANT_SETTING, ACTOR_SETTING, CONTEXT_SETTING)

EMPTY: tuple[str, str, str] = ("", "", "")

# Attribute on a DatabaseWrapper: (the transaction, the settings sent non-empty in it).
_SENT = "_prodpatterns_settings_sent"

_COMMON_DML = ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")
_ROLLBACK = re.compile(r"^\s*(?:ROLLBACK|ABORT)\b", re.IGNORECASE)
_PASS_THROUGH = re.compile(
    r"""^\s*(?:
        (?:SAVEPOINT|RELEASE|ROLLBACK|COMMIT|BEGIN|START\s+TRANSACTION|END|ABORT)\b
      | VACUUM\b
      | (?:CREATE|DROP)\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\b
      | REINDEX\b.*\bCONCURRENTLY\b
      | ALTER\s+TABLE\b.*\bDETACH\s+PARTITION\b.*\bCONCURRENTLY\b
      | (?:CREATE|DROP|ALTER)\s+(?:DATABASE|TABLESPACE|SUBSCRIPTION)\b
      | ALTER\s+SYSTEM\b
    )""",
    re.IGNORECASE | re.VERBOSE | re.DOTALL,
)


def current_values() -> tuple[str, str, str] | None:
    """The three setting values for the active context, or ``None`` when none is active."""
    tenant = _current_tenant.get()
    audit = _current_audit.get()
    if tenant is None and audit is None:
        return None
    if audit is None:
        return (key_of(tenant), "", "")
    return (key_of(tenant), audit.actor_id, audit.as_json)


@lru_cache(maxsize=1024)
def set_local_sql(settings: tuple[tuple[str, str], ...], escape_percent: bool = False) -> str:
    """``SET LOCAL`` statements for ``settings``, each ending in ``"; "``.

    Args:
        settings: ``(name, value)`` pairs, ``""`` meaning "none".
        escape_percent: double ``%`` so the text survives psycopg's parameter formatting.
    """
    text = "".join(
        f"SET LOCAL {name} = {pgsql.Literal(value).as_string(None)}; " for name, value in settings
    )
    return text.replace("%", "%%") if escape_percent else text


def _in_transaction(connection: Any) -> bool:
    return connection.in_atomic_block or not connection.autocommit


def _transaction_marker(connection: Any) -> Any:
    """Something that identifies the current outermost transaction while it lasts."""
    return connection.atomic_blocks[0] if connection.atomic_blocks else True


@dataclass
class _Sent:
    """What this connection's open transaction has been told.

    ``carried``: settings sent non-empty since the transaction began (they must be cleared
    explicitly, even after ROLLBACK TO SAVEPOINT). ``in_force``: the values known to be in
    force, valid while ``token`` is Django's current ``run_on_commit`` list, which Django
    replaces on every commit, rollback and savepoint rollback.
    """

    marker: Any
    carried: frozenset
    token: Any = None
    in_force: tuple[str, str, str] | None = None


def settings_to_send(connection: Any) -> tuple[tuple[str, str], ...]:
    """The ``(name, value)`` pairs this statement must carry (empty: send nothing).

    - Autocommit: each statement is its own transaction, so the non-empty values go with
      every statement and nothing else is needed.
    - Inside ``atomic``: a value is sent when it differs from what is known to be in force,
      so a request in one transaction pays for the SET LOCAL once. After a savepoint
      rollback nothing is known and everything carried is sent again.
    - Inside a transaction, a setting that was sent non-empty keeps being cleared after
      its context ends (SET LOCAL values outlive the context until the transaction ends).
    """
    values = current_values() or EMPTY
    in_atomic = connection.in_atomic_block
    state = connection.__dict__.get(_SENT)
    if in_atomic:
        token = connection.run_on_commit
        if state is not None and state.token is token and state.in_force == values:
            return ()  # the common case inside a request: everything already in force
    elif connection.autocommit:
        if state is not None:
            connection.__dict__[_SENT] = None
        return tuple((n, v) for n, v in zip(SETTING_NAMES, values, strict=True) if v)
    else:
        token = None  # a transaction Django does not manage: nothing is ever "known"
    marker = _transaction_marker(connection)
    if state is None or state.marker is not marker:
        state = _Sent(marker, frozenset())
    known = state.in_force if token is not None and state.token is token else None
    send = tuple(
        (name, value)
        for index, (name, value) in enumerate(zip(SETTING_NAMES, values, strict=True))
        if (value or name in state.carried) and (known is None or known[index] != value)
    )
    state.carried = state.carried | {name for name, value in send if value}
    # What is in force now: what was just sent, what was known, "" for never-set settings.
    sent = dict(send)
    state.in_force = tuple(
        sent.get(name, known[index] if known is not None else "")
        for index, name in enumerate(SETTING_NAMES)
    )
    state.token = token
    connection.__dict__[_SENT] = state
    return send


def forget_settings(connection: Any) -> None:
    """After a rollback the values in force are unknown: send them again before use."""
    state = connection.__dict__.get(_SENT)
    if state is not None:
        state.token = state.in_force = None


def _needs_separate_statement(connection: Any, cursor: Any, many: bool) -> bool:
    return (
        many
        or getattr(cursor, "name", None) is not None
        or bool(connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"))
    )


def apply_context(execute: Any, sql: str, params: Any, many: bool, context: dict) -> Any:
    """Execute wrapper: run the statement with the current context in force."""
    connection = context["connection"]
    if not isinstance(sql, str):  # psycopg.sql.Composed and friends
        sql = sql.as_string(connection.connection)
    if not sql.lstrip()[:6].upper().startswith(_COMMON_DML) and _PASS_THROUGH.match(sql):
        if _ROLLBACK.match(sql):
            forget_settings(connection)
        return execute(sql, params, many, context)
    send = settings_to_send(connection)
    if not send:
        return execute(sql, params, many, context)
    cursor = context["cursor"].cursor
    if _needs_separate_statement(connection, cursor, many):
        return _execute_after_settings(connection, send, execute, sql, params, many, context)
    prefix = set_local_sql(send, escape_percent=params is not None)
    result = execute(prefix + sql, params, many, context)
    for _ in send:
        cursor.nextset()
    return result


def _execute_after_settings(
    connection: Any,
    send: tuple[tuple[str, str], ...],
    execute: Any,
    sql: str,
    params: Any,
    many: bool,
    context: dict,
) -> Any:
    """Send the settings as their own statement, then the statement, in one transaction."""
    raw = connection.connection
    if _in_transaction(connection):
        raw.execute(set_local_sql(send))
        return execute(sql, params, many, context)
    raw.execute("BEGIN")
    try:
        raw.execute(set_local_sql(send))
        result = execute(sql, params, many, context)
    except BaseException:
        with suppress(Exception):  # a broken connection must not hide the real error
            raw.execute("ROLLBACK")
        raise
    raw.execute("COMMIT")
    return result


def apply_now(using: str = "default") -> None:
    """Send the current context to the open transaction on ``using`` right away.

    For code that talks to psycopg directly (``COPY``, raw cursors) and so bypasses the
    execute wrapper. Must be called inside ``transaction.atomic(using=using)``.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    if not _in_transaction(connection):
        raise RuntimeError("apply_now() needs an open transaction (use transaction.atomic).")
    connection.ensure_connection()
    forget_settings(connection)  # send everything, whatever is believed to be in force
    send = settings_to_send(connection)
    if send:
        connection.connection.execute(set_local_sql(send))


def install(sender: Any = None, connection: Any = None, **kwargs: Any) -> None:
    """Attach :func:`apply_context` to a PostgreSQL connection (``connection_created``).

    It goes first in the wrapper list: ``connection.execute_wrapper()`` blocks pop the last
    wrapper on exit, so a connection opened inside such a block must not end up with the
    channel in last place.
    """
    if connection is None or connection.vendor != "postgresql":
        return
    if apply_context not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, apply_context)


def install_on_open_connections() -> None:
    """Attach the wrapper to connections opened before the app was ready."""
    for connection in connections.all(initialized_only=True):
        install(connection=connection)
