"""A deliberate backfill: many rows written without per-row audit entries, recorded as one.

A data migration that writes ten million rows would otherwise write ten million audit
entries, doubling its time and the log's size for rows nobody will look up one by one.
Inside :func:`audit_backfill` the capture triggers skip the per-row entries and count the
rows instead; on the way out one ``backfill`` entry says who, why and how many rows of
each model, in the same transaction as the rows::

    from django_prodpatterns.backfill import audit_backfill

    def forwards(apps, schema_editor):
        alias = schema_editor.connection.alias
        with audit_backfill(reason="ticket 4711: split names", using=alias):
            ...

Why the application role cannot use it, whatever SQL it sends: the block's marker travels
in the signed context (a field of :class:`~django_prodpatterns.context.AuditInfo` that
``audit_context()`` cannot set), and the trigger function (``sql/audit_function_v4.sql``
and later) honours it only for a session whose login role has the privileges of the audited table's
owner: a role that could switch the triggers off anyway. Every other session's writes are
captured row by row, marker or not. Here the block refuses, in one line, an alias whose
role is not the owner, so the mistake shows before any row is written.
"""

from __future__ import annotations

import getpass
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.db.backends.base.base import BaseDatabaseWrapper
from django.utils import timezone

from .conf import app_settings
from .context import AuditInfo, audit_context, channel_values, get_audit_info
from .db.names import BACKFILL_ROWS_SETTING

__all__ = ["Backfill", "audit_backfill"]

# BACKFILL_ROWS_SETTING (db/names.py) is where the trigger function counts the rows it
# did not log, per block, model and action (transaction-local: a rollback takes the counts
# back with the rows); a block is open in the transaction that holds the setting's key.
ACTION = "backfill"

# One statement before anything is written: whether the session's login role and its
# current role have the privileges of the log's owner (the trigger function asks the same
# of each audited table's owner), and whether the trigger function honours backfills
# (version 4, migration prodpatterns.0009): its body names the counts' setting.
_CHECK_SQL = """
    SELECT session_user, current_user,
        pg_catalog.pg_has_role(session_user, c.relowner, 'USAGE')
            AND pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE'),
        EXISTS (
            SELECT FROM pg_catalog.pg_proc AS p
            WHERE p.pronamespace = c.relnamespace AND p.proname = 'prodpatterns_audit'
              AND p.pronargs = 0 AND pg_catalog.strpos(p.prosrc, %s) > 0
        )
    FROM pg_catalog.pg_class AS c WHERE c.oid = %s::regclass
"""

# Opens the block's counts in this transaction: the trigger function skips a statement's
# per-row entries only where the block is open, so rows written through another connection
# that carries the marker (another alias, a thread) are logged, never skipped uncounted.
_OPEN_SQL = """
    SELECT pg_catalog.set_config(%s, (
        coalesce(nullif(pg_catalog.current_setting(%s, true), ''), '{}')::jsonb
        || pg_catalog.jsonb_build_object(%s::text, '{}'::jsonb))::text, true)
"""

# The one entry: the counts of this block turned into the log's {field: [old, new]} shape
# ({"app.Model": [null, {"create": rows, ...}]}, so the admin's diff lists them), in the
# same statement that reads them.
_ENTRY_SQL = """
    INSERT INTO {log} (timestamp, model, object_pk, action, changes, snapshot, actor_id,
        actor_repr, tenant_id, request_id, ip_address, user_agent, path, reason, extra)
    SELECT %s, %s, %s, %s, (
            SELECT pg_catalog.jsonb_object_agg(
                e.key, pg_catalog.jsonb_build_array(NULL, e.value) ORDER BY e.key)
            FROM pg_catalog.jsonb_each(
                coalesce(nullif(pg_catalog.current_setting(%s, true), ''), '{{}}')::jsonb -> %s
            ) AS e
        ), NULL, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb
    RETURNING id, changes
"""


@dataclass
class Backfill:
    """One :func:`audit_backfill` block: its id, and after it ends, what it recorded.

    ``rows``: ``{"app_label.Model": {"create": n, "update": n, "delete": n}}``, the rows
    written without per-row entries (only the actions that happened). ``entry_id``: the
    ``backfill`` entry's primary key (``None`` off PostgreSQL, where nothing is captured).
    """

    id: str
    reason: str
    using: str
    rows: dict[str, dict[str, int]] = field(default_factory=dict)
    entry_id: int | None = None

    @property
    def total(self) -> int:
        """All rows the block wrote without per-row entries."""
        return sum(sum(actions.values()) for actions in self.rows.values())


class _marked(audit_context):
    """``audit_context`` whose details carry the block's id, the trigger function's marker.

    Inner ``audit_context`` blocks keep the marker (they copy the outer details), and none
    can add it: only this class sets the field.
    """

    def __init__(self, backfill_id: str, actor: object, reason: str) -> None:
        super().__init__(actor=actor, reason=reason)
        self.backfill_id = backfill_id

    def new_value(self) -> AuditInfo:
        return replace(super().new_value(), backfill=self.backfill_id, _json={})


@contextmanager
def audit_backfill(
    reason: str, *, using: str | None = None, actor: object = None
) -> Iterator[Backfill]:
    """Write rows inside the block without per-row audit entries; record one entry instead.

    The block is one transaction (a savepoint inside an outer one, as in a migration): the
    rows and the ``backfill`` entry commit together or not at all. The entry names the
    actor (``actor``, else the surrounding ``audit_context``'s, else the operating-system
    user), the reason, the tenant in force, the context's request details, and the rows
    per model and action.

    Args:
        reason: Why, stored with the entry; required.
        using: The database alias, which must connect as the owner of the tables (in a
            data migration ``schema_editor.connection.alias``); default
            ``PRODPATTERNS["OWNER_DATABASE"]``, else ``default``.
        actor: The user responsible; ``None`` keeps the surrounding context's.

    Raises:
        ValueError: no reason.
        RuntimeError: already inside a backfill (blocks do not nest).
        ImproperlyConfigured: the alias's role is not the tables' owner, or the database
            is not migrated to ``prodpatterns.0009``; nothing was written.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("audit_backfill() needs a reason: why do these rows skip the audit?")
    outer = get_audit_info()
    if outer is not None and outer.backfill is not None:
        raise RuntimeError("audit_backfill() blocks do not nest: one block, one entry.")
    alias = using or app_settings.OWNER_DATABASE or DEFAULT_DB_ALIAS
    connection = connections[alias]
    record = Backfill(id=uuid.uuid4().hex, reason=reason, using=alias)
    postgresql = connection.vendor == "postgresql"
    with transaction.atomic(using=alias):
        if postgresql:
            _check(connection, alias)
            with connection.cursor() as cursor:
                cursor.execute(_OPEN_SQL, [BACKFILL_ROWS_SETTING, BACKFILL_ROWS_SETTING, record.id])
        with _marked(record.id, actor, reason):
            yield record
            info = get_audit_info()
        if postgresql:
            _write_entry(connection, record, info)


def _log_table(connection: BaseDatabaseWrapper) -> str:
    # At call time: this module may be imported before the app registry is ready (a
    # settings-time import), when the log's model class cannot be built yet.
    from .models.audit import AuditLog

    return connection.ops.quote_name(AuditLog._meta.db_table)


def _check(connection: BaseDatabaseWrapper, alias: str) -> None:
    """Refuse, before anything is written, a role the trigger function would not exempt."""
    with connection.cursor() as cursor:
        cursor.execute(_CHECK_SQL, [BACKFILL_ROWS_SETTING, _log_table(connection)])
        session_role, role, owner, honoured = cursor.fetchone()
    if not owner:
        raise ImproperlyConfigured(
            f"audit_backfill() must run through the owner alias (PRODPATTERNS"
            f"['OWNER_DATABASE'], the role that runs migrate): database alias {alias!r}"
            f" connects as {session_role!r} (current role {role!r}), which does not own the"
            " audited tables, so every row would still be logged one by one."
        )
    if not honoured:
        raise ImproperlyConfigured(
            "audit_backfill() needs migration prodpatterns.0009_audit_backfill applied"
            " first (a data migration that uses it depends on it)."
        )


def _write_entry(connection: BaseDatabaseWrapper, record: Backfill, info: AuditInfo | None) -> None:
    """The block's one entry, with the context that was in force inside it."""
    from .models.audit import AuditLog  # at call time, as in _log_table

    details = json.loads(info.as_json) if info is not None else {}
    actor_id = info.actor_id if info is not None else ""
    actor_repr = details.get("actor_repr") or _os_user()
    tenant = (channel_values() or ("",))[0]  # the key PostgreSQL was sent
    extra = details.get("extra")
    with connection.cursor() as cursor:
        cursor.execute(
            _ENTRY_SQL.format(log=_log_table(connection)),
            [
                timezone.now(),
                AuditLog._meta.label,
                record.id,
                ACTION,
                BACKFILL_ROWS_SETTING,
                record.id,
                actor_id or None,
                actor_repr,
                tenant or None,
                details.get("request_id"),
                details.get("ip_address"),
                details.get("user_agent"),
                details.get("path"),
                record.reason,
                None if extra is None else json.dumps(extra),
            ],
        )
        record.entry_id, changes = cursor.fetchone()
    if isinstance(changes, str):  # psycopg answers jsonb decoded; be safe with text
        changes = json.loads(changes)
    record.rows = {label: pair[1] for label, pair in (changes or {}).items()}


def _os_user() -> str | None:
    """Who ran the process, for an entry no actor signs (a migration run from a shell)."""
    try:
        return f"os user {getpass.getuser()}"
    except (KeyError, OSError):  # no name for the process's uid (some containers)
        return None
