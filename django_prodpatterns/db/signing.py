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

The signature covers the backend's process id, so a value read from another session's
statement in ``pg_stat_activity`` does not verify in the reader's session. A connection
whose backend the application cannot know in advance (PgBouncer in transaction pooling
mode, detected when the connection opens) signs for "any backend" instead; the security
page of the docs says what that leaves open.

The key reaches the database after every ``migrate`` (:func:`install_key`, connected to
``post_migrate``), through the migrating role, which owns the key table.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils.crypto import salted_hmac

CONTEXT_SETTING = "prodpatterns.context"
SEPARATOR = "\x1f"  # between tenant, actor and the audit details
BOUND, POOLED = "b", "p"
KEY_TABLE = "prodpatterns_private.context_key"
# Verifies and remembers a value new on a connection (``sql/context_functions_v2.sql``).
SET_CONTEXT_FUNCTION = "prodpatterns_private.set_context"
# Their last values name the setting that remembers verified values: secret, and changed
# with the key, so that values verified under an old key stop counting.
CACHE_SEQUENCES = ("prodpatterns_private.context_cache_a", "prodpatterns_private.context_cache_b")

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

# What a new connection learns: its backend pid, and whether set_context() is there for
# it (absent before migration prodpatterns.0007, or without USAGE on its schema).
_BIND_SQL = """
    SELECT pg_backend_pid(), EXISTS (
        SELECT 1 FROM pg_catalog.pg_proc AS p
        JOIN pg_catalog.pg_namespace AS n ON n.oid = p.pronamespace
        WHERE n.nspname = 'prodpatterns_private' AND p.proname = 'set_context'
          AND has_schema_privilege(n.oid, 'USAGE') AND has_function_privilege(p.oid, 'EXECUTE')
    )
"""

# Attributes on a DatabaseWrapper: the backend pid its signatures are bound to (0: pooled);
# whether the database offers set_context().
_BINDING = "_prodpatterns_backend_pid"
_CACHING = "_prodpatterns_set_context"


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
    """The setting's value for ``body`` on a backend (``backend_pid`` 0: any backend)."""
    binding = BOUND if backend_pid else POOLED
    message = f"{backend_pid}:{body}".encode()
    digest = hmac.new(context_key(), message, hashlib.sha256).hexdigest()
    return f"{digest}{binding}{body}"


def bind(connection: Any) -> None:
    """Find the backend a new connection's statements run on (``connection_created``).

    psycopg knows the process id the server announced at log-in; when a pooler stands
    between (PgBouncer announces an id of its own), the backend that runs a statement is
    not known in advance and signatures are made for any backend.
    """
    raw = connection.connection
    announced = raw.info.backend_pid
    with raw.cursor() as cursor:
        cursor.execute(_BIND_SQL)
        actual, caching = cursor.fetchone()
    connection.__dict__[_BINDING] = announced if actual == announced else 0
    connection.__dict__[_CACHING] = caching


def backend_pid(connection: Any) -> int:
    """The pid :func:`bind` found (0 for a pooled connection)."""
    pid = connection.__dict__.get(_BINDING)
    if pid is None:  # opened before the app was ready
        bind(connection)
        pid = connection.__dict__[_BINDING]
    return pid


def offers_set_context(connection: Any) -> bool:
    """Whether new values may go through ``set_context()`` on ``connection``."""
    if connection.__dict__.get(_CACHING) is None:
        bind(connection)
    return connection.__dict__[_CACHING]


def rebind_all(**kwargs: Any) -> None:
    """After ``migrate``: open connections learn again what the database offers."""
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if connection.vendor == "postgresql":
            connection.__dict__.pop(_CACHING, None)


def install_key(using: str = "default", **kwargs: Any) -> None:
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


def _rename_cache(cursor: Any) -> None:
    """New secret names for the remembered values (a new key: old ones must not count)."""
    for sequence in CACHE_SEQUENCES:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [sequence])
        (exists,) = cursor.fetchone()
        if exists:
            cursor.execute("SELECT setval(%s, %s)", [sequence, secrets.randbits(62) + 1])
