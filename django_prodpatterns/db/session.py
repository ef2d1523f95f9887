"""Hands the current context to PostgreSQL as transaction-local settings.

Every SQL statement Django sends on a PostgreSQL connection passes through
:func:`apply_context`, an execute wrapper installed when the connection opens. Each
statement is sent as::

    SET LOCAL prodpatterns.context = '<signature><tenant>\x1f<actor>\x1f{...}'; <the statement>

in one query string, so it costs no extra round trip. The value is signed for the
connection's backend (:mod:`.signing`): the database accepts only what the application
sent. A value the database does not remember goes as
``SELECT prodpatterns_private.set_context(...)`` instead, which verifies it once and
remembers it for the session; the statements that follow send it by ``SET LOCAL`` and
count only while it is remembered. What the database remembers is tracked here too,
transactions and rollbacks included; a session whose state was wiped answers with
SQLSTATE PPC01, and the connection binds again (:mod:`.signing`).

The value goes with every statement in autocommit, empty (``''``) when the application has
no context: a value an earlier statement on the connection set at session level
(``set_config(..., false)``, an SQL injection in another request, on a persistent
connection or a pooled server connection) never counts. A multi-statement query string
runs as one implicit transaction, so the setting holds in autocommit too. Inside a
transaction the first statement sends it and later ones only when it changes; after
``ROLLBACK TO SAVEPOINT`` it is sent again. Nothing the application sends is set at
session level (the database's own memory of verified values is, under a name the
application role cannot learn).

Statements that cannot share a query string with others (``executemany``, named
server-side cursors, server-side parameter binding) get the settings as a separate
statement first, inside a short explicit transaction when the connection is in autocommit.
A single statement that cannot run inside a transaction block (``CREATE INDEX
CONCURRENTLY``, ``VACUUM``, ``CREATE DATABASE``, ...) and transaction control itself are
passed through untouched: none of them reads or writes rows. A query string holding more
than one statement is never passed through, whatever it starts with.

Values are quoted by psycopg (``psycopg.sql.Literal``), never formatted in.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from psycopg import sql as pgsql

from ..context import channel_values
from . import signing
from .citus import group_by_whole_rows
from .names import CONTEXT_SETTING

SETTING_NAMES = (CONTEXT_SETTING,)

EMPTY: tuple[str] = ("",)

# Attributes on a DatabaseWrapper: what its open transaction has been told; the last value
# it signed, as (key, backend pid, payload, value); the last value it sent through
# set_context(), which the database remembers for the session.
_SENT = "_prodpatterns_settings_sent"
_SIGNED = "_prodpatterns_signed"
_REMEMBERED = "_prodpatterns_remembered"

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
# What may hide a ";" that does not end a statement: literals, quoted names, comments.
_QUOTED = re.compile(
    r"""'(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|/\*.*?\*/|\$(\w*)\$.*?\$\1\$""", re.DOTALL
)


# An execute wrapper's ``execute``: runs (sql, params, many, context) and returns what the
# cursor's execute() returns. ``params`` is whatever the caller gave the cursor; ``context``
# is Django's {"connection": BaseDatabaseWrapper, "cursor": CursorWrapper}.
Execute = Callable[[str, object, bool, dict[str, Any]], object]


def is_single_statement(sql: str) -> bool:
    """True when ``sql`` holds one statement (a trailing ``;`` allowed)."""
    if ";" not in sql:
        return True
    return ";" not in _QUOTED.sub(" ", sql).strip().rstrip(";")


def _passes_through(sql: str) -> bool:
    """A lone statement that must not, or need not, carry the settings."""
    if sql.lstrip()[:6].upper().startswith(_COMMON_DML):
        return False
    return bool(_PASS_THROUGH.match(sql)) and is_single_statement(sql)


def signed_values(connection: BaseDatabaseWrapper) -> tuple[str]:
    """The setting values for the active context on ``connection`` (signed for it)."""
    values = channel_values()
    if values is None:
        return EMPTY
    binding = signing.binding_of(connection)
    key = signing.context_key()
    last = connection.__dict__.get(_SIGNED)
    if last is not None and last[0] is binding and last[1:3] == (key, values):
        return (last[3],)  # the same context on the same session: signed already
    value = signing.sign_for(signing.payload(*values), connection)
    connection.__dict__[_SIGNED] = (binding, key, values, value)
    return (value,)


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


@lru_cache(maxsize=256)
def set_context_sql(value: str, escape_percent: bool = False) -> str:
    """The statement that verifies ``value`` once and remembers it (ends in ``"; "``)."""
    text = f"SELECT {signing.SET_CONTEXT_FUNCTION}({pgsql.Literal(value).as_string(None)}); "
    return text.replace("%", "%%") if escape_percent else text


def context_sql(
    connection: BaseDatabaseWrapper,
    settings: tuple[tuple[str, str], ...],
    escape_percent: bool = False,
) -> str:
    """What sends ``settings`` on ``connection``: ``set_context()`` for a value the
    database does not remember (when it offers it), ``SET LOCAL`` otherwise."""
    ((_, value),) = settings
    if (
        value
        and signing.binding_of(connection).set_context
        and not _is_remembered(connection, value)
    ):
        _remember(connection, value)
        return set_context_sql(value, escape_percent)
    return set_local_sql(settings, escape_percent)


def _is_remembered(connection: BaseDatabaseWrapper, value: str) -> bool:
    """Whether the database's session remembers ``value``: it was sent through
    ``set_context()`` in autocommit, in a transaction that committed, or earlier in the
    current transaction with no rollback since (Django replaces ``run_on_commit`` on every
    commit, rollback and savepoint rollback)."""
    entry = connection.__dict__.get(_REMEMBERED)
    if entry is None or entry[0] != value:
        return False
    token = entry[1]
    return token is None or (connection.in_atomic_block and connection.run_on_commit is token)


def _remember(connection: BaseDatabaseWrapper, value: str) -> None:
    """Note that ``value`` goes through ``set_context()`` now. Inside ``atomic`` it counts
    once the transaction commits (until then, only within it); in autocommit at once (a
    failed statement forgets it again); in a transaction Django does not manage, never."""
    if connection.in_atomic_block:
        token = connection.run_on_commit
        connection.__dict__[_REMEMBERED] = (value, token)

        def committed() -> None:
            if connection.__dict__.get(_REMEMBERED) == (value, token):
                connection.__dict__[_REMEMBERED] = (value, None)

        connection.on_commit(committed)
    elif connection.autocommit:
        connection.__dict__[_REMEMBERED] = (value, None)
    else:
        forget_remembered(connection)


def forget_remembered(connection: BaseDatabaseWrapper) -> None:
    """The database may have lost the remembered value (its transaction rolled back)."""
    connection.__dict__.pop(_REMEMBERED, None)


def _in_transaction(connection: BaseDatabaseWrapper) -> bool:
    return connection.in_atomic_block or not connection.autocommit


def _transaction_marker(connection: BaseDatabaseWrapper) -> object:
    """Something that identifies the current outermost transaction while it lasts."""
    return connection.atomic_blocks[0] if connection.atomic_blocks else True


@dataclass
class _Sent:
    """What this connection's open transaction has been told.

    ``in_force``: the values known to be in force, valid while ``token`` is Django's
    current ``run_on_commit`` list, which Django replaces on every commit, rollback and
    savepoint rollback.
    """

    marker: object
    token: object = None
    in_force: tuple[str] | None = None


def settings_to_send(connection: BaseDatabaseWrapper) -> tuple[tuple[str, str], ...]:
    """The ``(name, value)`` pairs this statement must carry (empty: send nothing).

    - Autocommit: each statement is its own transaction, so the setting goes with every
      statement, empty or not.
    - Inside ``atomic``: with the first statement, then only when it differs from what is
      known to be in force, so a request in one transaction pays for the SET LOCAL once.
      After a savepoint rollback nothing is known and it is sent again.
    """
    values = signed_values(connection)
    state = connection.__dict__.get(_SENT)
    if connection.in_atomic_block:
        token = connection.run_on_commit
        if state is not None and state.token is token and state.in_force == values:
            return ()  # the common case inside a request: everything already in force
    elif connection.autocommit:
        if state is not None:
            connection.__dict__[_SENT] = None
        return tuple(zip(SETTING_NAMES, values, strict=True))
    else:
        token = None  # a transaction Django does not manage: nothing is ever "known"
    marker = _transaction_marker(connection)
    if state is None or state.marker is not marker:
        state = _Sent(marker)
    known = state.in_force if token is not None and state.token is token else None
    send = tuple(
        (name, value)
        for index, (name, value) in enumerate(zip(SETTING_NAMES, values, strict=True))
        if known is None or known[index] != value
    )
    state.in_force, state.token = values, token
    connection.__dict__[_SENT] = state
    return send


def forget_settings(connection: BaseDatabaseWrapper) -> None:
    """After a rollback the values in force are unknown: send them again before use."""
    state = connection.__dict__.get(_SENT)
    if state is not None:
        state.token = state.in_force = None
    forget_remembered(connection)


def _needs_separate_statement(connection: BaseDatabaseWrapper, cursor: object, many: bool) -> bool:
    """Whether the settings cannot share the statement's query string.

    On a Citus database in Citus mode never: a query string of more than one statement
    that reaches a distributed table fails there ("cannot execute a distributed query from
    a query on a shard"), and ``SET LOCAL`` sent on its own inside the transaction is what
    Citus forwards to the workers' shards (``citus.propagate_set_commands = 'local'``).
    """
    return (
        many
        or getattr(cursor, "name", None) is not None
        or bool(connection.settings_dict.get("OPTIONS", {}).get("server_side_binding"))
        or signing.binding_of(connection).citus
    )


def apply_context(
    execute: Execute,
    sql: str | pgsql.Composable,
    params: object,
    many: bool,
    context: dict[str, Any],
) -> object:
    """Execute wrapper: run the statement with the current context in force."""
    connection: BaseDatabaseWrapper = context["connection"]
    if not isinstance(sql, str):  # psycopg.sql.Composed and friends
        sql = sql.as_string(connection.connection)
    if _passes_through(sql):
        if _ROLLBACK.match(sql):
            forget_settings(connection)
        return execute(sql, params, many, context)
    try:
        return _execute_with_context(connection, execute, sql, params, many, context)
    except Exception as error:
        if not signing.is_refusal(error):
            raise
        # The session's verification state was wiped (RESET ALL, DISCARD ALL) or is not
        # the one this connection signed for: open it again. In autocommit nothing ran, so
        # the statement runs once more; inside a transaction, the transaction has failed.
        signing.unbind(connection)
        if _in_transaction(connection):
            raise
        return _execute_with_context(connection, execute, sql, params, many, context)


def _execute_with_context(
    connection: BaseDatabaseWrapper,
    execute: Execute,
    sql: str,
    params: object,
    many: bool,
    context: dict[str, Any],
) -> object:
    send = settings_to_send(connection)
    if not send:
        return execute(sql, params, many, context)
    cursor = context["cursor"].cursor
    if _needs_separate_statement(connection, cursor, many):
        return _execute_after_settings(connection, send, execute, sql, params, many, context)
    prefix = context_sql(connection, send, escape_percent=params is not None)
    try:
        result = execute(prefix + sql, params, many, context)
    except BaseException:
        forget_remembered(connection)
        raise
    for _ in send:
        cursor.nextset()
    return result


def _execute_after_settings(
    connection: BaseDatabaseWrapper,
    send: tuple[tuple[str, str], ...],
    execute: Execute,
    sql: str,
    params: object,
    many: bool,
    context: dict[str, Any],
) -> object:
    """Send the settings as their own statement, then the statement, in one transaction."""
    raw = connection.connection
    if _in_transaction(connection):
        try:
            raw.execute(context_sql(connection, send))
        except BaseException:
            forget_remembered(connection)
            raise
        return execute(sql, params, many, context)
    try:
        # One round trip for both: neither reads a table.
        raw.execute("BEGIN; " + context_sql(connection, send))
        result = execute(sql, params, many, context)
    except BaseException:
        forget_remembered(connection)
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
        try:
            connection.connection.execute(context_sql(connection, send))
        except BaseException as error:
            forget_remembered(connection)
            if signing.is_refusal(error):
                signing.unbind(connection)
            raise


def install(
    sender: object = None, connection: BaseDatabaseWrapper | None = None, **kwargs: object
) -> None:
    """Attach :func:`apply_context` to a PostgreSQL connection (``connection_created``).

    It goes first in the wrapper list: ``connection.execute_wrapper()`` blocks pop the last
    wrapper on exit, so a connection opened inside such a block must not end up with the
    channel in last place. A newly opened connection also learns which backend its
    signatures are bound to.
    """
    if connection is None or connection.vendor != "postgresql":
        return
    if apply_context not in connection.execute_wrappers:
        connection.execute_wrappers.insert(0, apply_context)
    if connection.connection is not None and signing.bind(connection).citus:
        group_by_whole_rows(connection)


def install_on_open_connections() -> None:
    """Attach the wrapper to connections opened before the app was ready."""
    for connection in connections.all(initialized_only=True):
        install(connection=connection)
