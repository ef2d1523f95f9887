"""The signed context: what makes the channel's values unforgeable from SQL.

Any role can set any custom PostgreSQL setting, so a tenant id sent as a plain setting can
be replaced by an injected ``set_config('prodpatterns.tenant_id', '<another>', true)``. The
channel therefore sends one setting, ``prodpatterns.context``, holding the tenant, the
actor and the audit details together with an HMAC-SHA256 signature under a key derived
from ``SECRET_KEY``. The database verifies it once per statement in a ``SECURITY DEFINER``
function that alone can read the key (``sql/context_functions_v2.sql``); anything it cannot
verify reads as no context at all. A value new on a connection goes through
``prodpatterns_private.set_context()``, which verifies it once and remembers it for the
session under a setting whose name only the owner can know (``sql/context_cache_v1.sql``);
the same value sent again by ``SET LOCAL`` is then accepted without the HMAC.

A value counts only while it is the newest one the application signed for its database
session (``sql/context_functions_v3.sql``): a new connection opens the session's
verification state (:func:`bind`, ``prodpatterns_private.open_context()``), which answers a
nonce; values are signed over the nonce and a counter that rises with every new value, and
``set_context()`` remembers a value only when its counter is above the last one. A value
read from ``pg_stat_activity`` therefore counts neither in another session nor, once the
connection has moved on to another request's context, in its own. A connection whose
backend the application cannot know in advance (PgBouncer in transaction pooling mode,
detected when the connection opens) signs for "any backend" instead; the security page of
the docs says what that leaves open.

The key reaches the database after every ``migrate`` (:func:`install_key`, connected to
``post_migrate``), through the migrating role, which owns the key table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.utils import CursorWrapper
from django.utils.crypto import salted_hmac

from ..conf import app_settings
from .citus import install_on_workers, is_citus

# The setting's name lives with the other shared names (db/names.py); it is importable
# from here too, where the channel has always found it.
from .names import CONTEXT_SETTING as CONTEXT_SETTING

SEPARATOR = "\x1f"  # between tenant, actor and the audit details
# How a value is bound: version 3 (migration prodpatterns.0008) signs for the session's
# state (FRESH) or, through a pooler, for any backend (ANY_BACKEND), after a counter of
# COUNTER_DIGITS digits; version 1's layout (BOUND to the pid, or POOLED) serves databases
# not migrated that far.
FRESH, ANY_BACKEND = "n", "q"
BOUND, POOLED = "b", "p"
COUNTER_DIGITS = 16
# What set_context() raises for a value the session does not accept (its state was wiped,
# or the value was replaced by a newer one): the connection opens its state again.
CONTEXT_REFUSED = "PPC01"
KEY_TABLE = "prodpatterns_private.context_key"
# Verifies and remembers a value new on a connection (``sql/context_functions_v3.sql``).
SET_CONTEXT_FUNCTION = "prodpatterns_private.set_context"
# Opens the session's verification state; answers "<nonce>:<last counter>".
OPEN_CONTEXT_SQL = "SELECT prodpatterns_private.open_context()"
# Its last value names the settings that remember the session's state: secret, and changed
# with the key, so that values verified under an old key stop counting. (Version 2 also
# used prodpatterns_private.context_cache_b, which version 3 leaves alone.)
CACHE_SEQUENCES = ("prodpatterns_private.context_cache_a",)

# Whether the current role may write the key (False before the table exists).
_WRITABLE_SQL = """
    SELECT coalesce((
        SELECT has_table_privilege(c.oid, 'INSERT,UPDATE')
        FROM pg_catalog.pg_class AS c
        JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
        WHERE n.nspname = 'prodpatterns_private' AND c.relname = 'context_key'
          AND has_schema_privilege(n.oid, 'USAGE')
    ), false)
"""

# What a new connection learns: its backend pid, which of set_context() (migration
# prodpatterns.0007) and open_context() (0008) the database offers it, and whether the
# database is a Citus one (the extension is there).
_BIND_SQL = """
    SELECT pg_backend_pid(), p.proname = 'set_context', p.proname = 'open_context', c.citus
    FROM pg_catalog.pg_proc AS p
    JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
    CROSS JOIN (SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension
                               WHERE extname = 'citus') AS citus) AS c
    WHERE n.nspname = 'prodpatterns_private' AND p.proname IN ('set_context', 'open_context')
      AND has_schema_privilege(n.oid, 'USAGE') AND has_function_privilege(p.oid, 'EXECUTE')
    UNION ALL SELECT pg_backend_pid(), false, false,
        EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')
"""

# Attribute on a DatabaseWrapper: its Binding (absent until bind() ran, or after a
# migration or a refused context made it stale).
_BINDING = "_prodpatterns_binding"


@dataclass
class Binding:
    """How a connection's values are signed.

    ``pid``: the backend they are bound to (0: any backend, behind a pooler).
    ``nonce``: the session state's nonce (version 3), else ``None``.
    ``counter``: the last counter used; the next value takes the next one.
    ``set_context``: whether the database offers ``set_context()``.
    ``citus``: Citus mode on a Citus database: the channel sends the context as a
    statement of its own (see :mod:`.session`), and bulk writes send VALUES lists.
    ``pending``: set while the state was opened inside a transaction that has not
    committed (Django's ``run_on_commit`` list of that transaction): a rollback undoes it.
    """

    pid: int
    nonce: str | None = None
    counter: int = 0
    set_context: bool = False
    pending: object = None
    citus: bool = False


@lru_cache(maxsize=4)
def _key(secret: str) -> bytes:
    return salted_hmac(
        "django_prodpatterns.db.signing", "context", secret=secret, algorithm="sha256"
    ).digest()


def context_key() -> bytes:
    """The 32-byte key, derived from ``SECRET_KEY`` (never the secret itself)."""
    return _key(settings.SECRET_KEY)


def padded_keys(key: bytes) -> tuple[bytes, bytes]:
    """HMAC's inner and outer keys, stored so that SQL needs two ``sha256()`` calls only."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def payload(tenant: str, actor: str, details: str) -> str:
    """The signed part: tenant, actor and audit details, separated by U+001F."""
    for name, value in (("tenant key", tenant), ("actor key", actor)):
        if SEPARATOR in value or "\0" in value:
            raise ValueError(f"A {name} cannot contain U+001F or NUL: {value!r}")
    return f"{tenant}{SEPARATOR}{actor}{SEPARATOR}{details}"


def sign(body: str, backend_pid: int) -> str:
    """Version 1's value for ``body`` on a backend (``backend_pid`` 0: any backend)."""
    binding = BOUND if backend_pid else POOLED
    message = f"{backend_pid}:{body}".encode()
    digest = hmac.new(context_key(), message, hashlib.sha256).hexdigest()
    return f"{digest}{binding}{body}"


def sign_fresh(body: str, binding: Binding) -> str:
    """Version 3's value for ``body``: for the session's state, under the next counter
    (for any backend, counter zero, on a pooled connection)."""
    if binding.pid:
        binding.counter += 1
        kind, counter, anchor = FRESH, binding.counter, binding.nonce
    else:
        kind, counter, anchor = ANY_BACKEND, 0, "0"
    digits = f"{counter:0{COUNTER_DIGITS}d}"
    message = f"{anchor}:{digits}:{body}".encode()
    digest = hmac.new(context_key(), message, hashlib.sha256).hexdigest()
    return f"{digest}{kind}{digits}{body}"


def sign_for(body: str, connection: BaseDatabaseWrapper) -> str:
    """The value for ``body`` on ``connection``, in the layout its database verifies."""
    binding = binding_of(connection)
    if binding.nonce is not None:
        return sign_fresh(body, binding)
    return sign(body, binding.pid)


def bind(connection: BaseDatabaseWrapper) -> Binding:
    """Find how a connection's values are signed (``connection_created``, and again after
    ``migrate`` or a refused context).

    psycopg knows the process id the server announced at log-in; when a pooler stands
    between (PgBouncer announces an id of its own), the backend that runs a statement is
    not known in advance and signatures are made for any backend. Otherwise, on a database
    that offers it, the session's verification state is opened and its nonce learnt from
    the result (which ``pg_stat_activity`` never shows).
    """
    raw = connection.connection
    announced = raw.info.backend_pid
    with raw.cursor() as cursor:
        cursor.execute(_BIND_SQL)
        rows = cursor.fetchall()
    actual = rows[0][0]
    # On Citus the policies are judged on the workers' shards, in sessions of their own
    # that see the transaction's SET LOCAL but not what set_context() remembers on the
    # coordinator: values are signed for any backend and sent by SET LOCAL only. Only on
    # a database that has Citus: another alias of the project keeps the session binding.
    citus = app_settings.citus and rows[0][3]
    binding = Binding(
        pid=announced if actual == announced and not citus else 0,
        set_context=not citus and any(caching or opening for _, caching, opening, _ in rows),
        citus=citus,
    )
    if any(opening for _, _, opening, _ in rows):
        binding.nonce = ""
        if binding.pid:
            with raw.cursor() as cursor:
                cursor.execute(OPEN_CONTEXT_SQL)
                nonce, floor = cursor.fetchone()[0].split(":")
            binding.nonce, binding.counter = nonce, int(floor)
            _watch_transaction(connection, binding)
    connection.__dict__[_BINDING] = binding
    return binding


def _watch_transaction(connection: BaseDatabaseWrapper, binding: Binding) -> None:
    """A state opened inside a transaction lasts only if the transaction commits."""
    if connection.in_atomic_block:
        binding.pending = connection.run_on_commit

        def committed() -> None:
            binding.pending = None

        connection.on_commit(committed)
    elif not connection.get_autocommit():
        binding.pending = object()  # a transaction Django does not manage: never known


def binding_of(connection: BaseDatabaseWrapper) -> Binding:
    """The connection's :class:`Binding`, found again if it is not known or its
    transaction may have been rolled back."""
    binding = connection.__dict__.get(_BINDING)
    if binding is None or (
        binding.pending is not None
        and not (connection.in_atomic_block and connection.run_on_commit is binding.pending)
    ):
        return bind(connection)
    return binding


def unbind(connection: BaseDatabaseWrapper) -> None:
    """Forget how ``connection`` signs: the next value binds it again."""
    connection.__dict__.pop(_BINDING, None)


def is_refusal(error: BaseException) -> bool:
    """Whether ``error`` (psycopg's, or Django's wrapping it) is set_context() refusing."""
    cause = error if getattr(error, "sqlstate", None) else error.__cause__
    return getattr(cause, "sqlstate", None) == CONTEXT_REFUSED


def rebind_all(**kwargs: object) -> None:
    """After ``migrate``: open connections learn again what the database offers."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.vendor == "postgresql":
            unbind(connection)


def install_key(using: str = "default", **kwargs: object) -> None:
    """Write the key for ``SECRET_KEY`` into the database (``post_migrate``).

    A changed key also renames the setting that remembers verified values. Runs as the
    migrating role; a no-op on other databases, before the key table exists (migration
    ``prodpatterns.0004``), and for a role that cannot write it (reported by
    ``prodpatterns.E004`` when the application's context is refused).
    """
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    inner, outer = padded_keys(context_key())
    with connection.cursor() as cursor:
        cursor.execute(_WRITABLE_SQL)
        (writable,) = cursor.fetchone()
        if not writable:
            return
        cursor.execute(
            f"INSERT INTO {KEY_TABLE} (id, inner_key, outer_key) VALUES (1, %s, %s)"
            " ON CONFLICT (id) DO UPDATE SET inner_key = excluded.inner_key,"
            " outer_key = excluded.outer_key"
            f" WHERE ({KEY_TABLE}.inner_key, {KEY_TABLE}.outer_key)"
            " IS DISTINCT FROM (excluded.inner_key, excluded.outer_key)",
            [inner, outer],
        )
        if cursor.rowcount:
            _rename_cache(cursor)
    if app_settings.citus and is_citus(connection):
        # The workers verify the context in their own sessions: each has the key too.
        install_on_workers(connection, key_statement(inner, outer))


def key_statement(inner: bytes, outer: bytes) -> str:
    """The statement that writes the key, its values spelled in (for a command that runs
    elsewhere, such as ``run_command_on_workers()``, which takes no parameters)."""
    return (
        f"INSERT INTO {KEY_TABLE} (id, inner_key, outer_key)"
        f" VALUES (1, '\\x{inner.hex()}'::bytea, '\\x{outer.hex()}'::bytea)"
        " ON CONFLICT (id) DO UPDATE SET inner_key = excluded.inner_key,"
        " outer_key = excluded.outer_key"
    )


def _rename_cache(cursor: CursorWrapper) -> None:
    """New secret names for the remembered values (a new key: old ones must not count)."""
    for sequence in CACHE_SEQUENCES:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [sequence])
        (exists,) = cursor.fetchone()
        if exists:
            cursor.execute("SELECT setval(%s, %s)", [sequence, secrets.randbits(62) + 1])
