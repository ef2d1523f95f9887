"""A tenant-scoped cache: every key carries the current tenant, and there is no key without
one.

Row level security keeps one tenant's rows from another, but a cache sits beside the
database: a view that caches ``"dashboard"`` under the same key for everybody hands the
first tenant's dashboard to the next. :func:`tenant_key`, Django's ``KEY_FUNCTION`` for a
cache alias, puts the current tenant (:class:`~django_prodpatterns.context.tenant_context`)
into every key that alias makes, and refuses when there is none
(:class:`~django_prodpatterns.exceptions.TenantRequired`), as tenant-scoped queries do.

Usage::

    CACHES = {
        "default": {
            "BACKEND": "django_prodpatterns.cache.TenantRedisCache",
            "LOCATION": "redis://127.0.0.1:6379/1",
        },
        "shared": {  # data that belongs to no tenant: an alias without tenant_key
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/2",
        },
    }

    with tenant_context(shop):
        cache.set("dashboard", data)  # key ":1:t42:dashboard"
    clear_tenant(shop)  # every key of that tenant in the default alias, and no other
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from .context import TenantKey, get_current_tenant_pk, tenant_context
from .exceptions import TenantRequired

__all__ = ["BYPASS", "REFUSE", "TenantRedisCache", "clear_tenant", "tenant_key"]

logger = logging.getLogger("django_prodpatterns.cache")

# TenantRedisCache's OPTIONS key, and what it takes: what a call without a tenant does.
WITHOUT_TENANT_OPTION = "without_tenant"
REFUSE = "refuse"
BYPASS = "bypass"

# Keys asked for per SCAN step and deleted per DEL by clear_tenant().
SCAN_COUNT = 1000
DELETE_BATCH = 500

# Redis glob patterns (SCAN MATCH) give these characters a meaning; a backslash quotes one.
_GLOB_SPECIAL = re.compile(r"([\\*?\[\]])")


def _tenant_part(pk: object) -> str | None:
    """The current tenant's key as it stands in a cache key: percent-encoded, so that it
    never contains ``:`` (nor a glob character); ``None`` for no tenant.

    The encoding is what makes keys of two tenants unable to collide: the tenant part ends
    at the first ``:`` after ``t``, whatever the key text after it. Unencoded, tenant
    ``"1"`` with key ``"2:x"`` and tenant ``"1:2"`` with key ``"x"`` would both be
    ``t1:2:x``. An empty key names no tenant, as in the database's channel.
    """
    if pk is None or pk == "":
        return None
    return quote(str(pk), safe="")


def _current_tenant_part() -> str | None:
    return _tenant_part(get_current_tenant_pk())


def tenant_key(key: object, key_prefix: str, version: object) -> str:
    """Django's ``KEY_FUNCTION`` for a tenant-scoped cache alias:
    ``<key_prefix>:<version>:t<tenant>:<key>``, the tenant's primary key percent-encoded.

    Set it as ``CACHES[alias]["KEY_FUNCTION"] = "django_prodpatterns.cache.tenant_key"``
    (:class:`TenantRedisCache` sets it itself). Every operation of that alias then reads
    and writes the current tenant's keys only.

    Raises:
        TenantRequired: there is no current tenant. Failing closed is the point: a key
            without the tenant would be one all tenants share.
    """
    part = _current_tenant_part()
    if part is None:
        raise TenantRequired(
            "This cache is tenant-scoped (KEY_FUNCTION django_prodpatterns.cache.tenant_key) "
            "and there is no current tenant: run the code inside tenant_context(tenant) "
            "(TenantMiddleware does it for requests), or use a cache alias without this key "
            "function for data that belongs to no tenant."
        )
    return f"{key_prefix}:{version}:t{part}:{key}"


class TenantRedisCache(RedisCache):
    """Django's ``RedisCache`` with :func:`tenant_key` as its key function, and a choice of
    what a call without a tenant does.

    ``OPTIONS["without_tenant"]``:

    - ``"refuse"`` (the default): :class:`~django_prodpatterns.exceptions.TenantRequired`,
      as :func:`tenant_key` raises with any backend.
    - ``"bypass"``: the call logs a warning (logger ``django_prodpatterns.cache``) and acts
      as a miss: ``get`` returns the default, ``get_many`` ``{}``, ``has_key`` and ``add``
      ``False``, ``incr`` raises ``ValueError`` as for a missing key, and ``set``,
      ``add``, ``delete`` and the ``*_many`` writes store and delete nothing. For caches
      that only speed things up, where code that sometimes runs without a tenant (a
      management command, a shared page) may go without the cache rather than fail. A key
      function cannot skip the cache, hence the backend.

    The async methods (``aget`` ...) run these through ``sync_to_async``, which carries the
    tenant along. ``clear()`` is Redis's ``FLUSHDB``, as in ``RedisCache``: every tenant's
    keys, and everything else in that database; :func:`clear_tenant` clears one tenant.

    Raises:
        ImproperlyConfigured: ``without_tenant`` is something else, or ``KEY_FUNCTION``
            names another function (the keys would not carry the tenant).
    """

    def __init__(self, server: str | list[str], params: dict[str, Any]) -> None:
        options = dict(params.get("OPTIONS") or {})
        # Taken out before RedisCache hands the rest of OPTIONS to the Redis client.
        mode = options.pop(WITHOUT_TENANT_OPTION, REFUSE)
        if mode not in (REFUSE, BYPASS):
            raise ImproperlyConfigured(
                f'TenantRedisCache: OPTIONS["{WITHOUT_TENANT_OPTION}"] must be "{REFUSE}" or '
                f'"{BYPASS}", got {mode!r}.'
            )
        key_function = params.get("KEY_FUNCTION") or tenant_key
        super().__init__(server, {**params, "OPTIONS": options, "KEY_FUNCTION": key_function})
        if self.key_func is not tenant_key:
            raise ImproperlyConfigured(
                "TenantRedisCache scopes keys with django_prodpatterns.cache.tenant_key; "
                f"KEY_FUNCTION names another function ({key_function!r}): leave it unset."
            )
        self.without_tenant: str = mode

    def _bypassed(self, operation: str, keys: Iterable[object]) -> bool:
        """True (after a warning) when this call runs without a tenant in bypass mode and
        so must not reach Redis; False when it may go ahead (with a tenant, or in refuse
        mode, where :func:`tenant_key` raises)."""
        if self.without_tenant != BYPASS or _current_tenant_part() is not None:
            return False
        logger.warning(
            "Tenant-scoped cache (KEY_PREFIX %r): %s(%s) ran without a current tenant and "
            "was bypassed (a miss; nothing read, stored or deleted). Run it inside "
            "tenant_context(tenant), or use a cache alias without tenant_key for data that "
            "belongs to no tenant.",
            self.key_prefix,
            operation,
            ", ".join(repr(key) for key in keys),
        )
        return True

    def add(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> bool:
        if self._bypassed("add", [key]):
            return False
        return super().add(key, value, timeout, version)

    def get(self, key: Any, default: Any | None = None, version: int | None = None) -> Any:
        if self._bypassed("get", [key]):
            return default
        return super().get(key, default, version)

    def set(
        self,
        key: Any,
        value: Any,
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> None:
        if self._bypassed("set", [key]):
            return
        super().set(key, value, timeout, version)

    def touch(
        self, key: Any, timeout: float | None = DEFAULT_TIMEOUT, version: int | None = None
    ) -> bool:
        if self._bypassed("touch", [key]):
            return False
        return super().touch(key, timeout, version)

    def delete(self, key: Any, version: int | None = None) -> bool:
        if self._bypassed("delete", [key]):
            return False
        return super().delete(key, version)

    def get_many(self, keys: Iterable[Any], version: int | None = None) -> dict[Any, Any]:
        keys = list(keys)
        if self._bypassed("get_many", keys):
            return {}
        return super().get_many(keys, version)

    def has_key(self, key: Any, version: int | None = None) -> bool:
        if self._bypassed("has_key", [key]):
            return False
        return super().has_key(key, version)

    def incr(self, key: Any, delta: int = 1, version: int | None = None) -> int:
        if self._bypassed("incr", [key]):
            raise ValueError(f"Key '{key}' not found.")  # as RedisCache says for a miss
        return super().incr(key, delta, version)

    def set_many(
        self,
        data: dict[Any, Any],
        timeout: float | None = DEFAULT_TIMEOUT,
        version: int | None = None,
    ) -> list[Any]:
        if data and self._bypassed("set_many", data):
            return list(data)  # the keys that were not stored: all of them
        return super().set_many(data, timeout, version)

    def delete_many(self, keys: Iterable[Any], version: int | None = None) -> None:
        keys = list(keys)
        if keys and self._bypassed("delete_many", keys):
            return
        super().delete_many(keys, version)


def clear_tenant(tenant: models.Model | TenantKey, using: str = DEFAULT_CACHE_ALIAS) -> int:
    """Delete every key of ``tenant`` in the cache alias ``using``, of every version, and
    return how many were deleted.

    The per-tenant counterpart of ``cache.clear()`` (which empties the whole Redis
    database): for a tenant whose data changed wholesale, or that left. Redis has no index
    by tenant, so this is ``SCAN`` with the tenant's key pattern and ``DEL`` in batches, on
    the primary server; each key is also matched exactly before it is deleted, so keys of
    other tenants, of other aliases and shared keys stay. Keys written while it runs may
    survive it.

    Args:
        tenant: An instance of the tenant model or its primary key.
        using: The cache alias: a ``RedisCache`` (or :class:`TenantRedisCache`) whose key
            function is :func:`tenant_key`.

    Raises:
        ImproperlyConfigured: the alias is not a Redis cache (other backends cannot list
            their keys), or its keys are not scoped by :func:`tenant_key`.
        ValueError: ``tenant`` is ``None`` or names no tenant.
        TypeError: ``tenant`` is neither the tenant model nor a key (as in
            :class:`~django_prodpatterns.context.tenant_context`).
    """
    cache = caches[using]
    if not isinstance(cache, RedisCache):
        raise ImproperlyConfigured(
            f"clear_tenant() cannot clear one tenant's keys in the cache {using!r}: it is a "
            f"{type(cache).__module__}.{type(cache).__qualname__}, which cannot list its keys. "
            "Use Redis (django_prodpatterns.cache.TenantRedisCache) for tenant-scoped caches."
        )
    if cache.key_func is not tenant_key:
        raise ImproperlyConfigured(
            f"The cache {using!r} does not scope its keys by tenant (its KEY_FUNCTION is not "
            "django_prodpatterns.cache.tenant_key), so clear_tenant() cannot tell one "
            "tenant's keys from another's."
        )
    with tenant_context(tenant):  # the same check of what names a tenant as everywhere
        part = _current_tenant_part()
    if part is None:
        raise ValueError(f"clear_tenant() needs a tenant or its primary key, got {tenant!r}.")
    prefix = str(cache.key_prefix)
    pattern = _GLOB_SPECIAL.sub(r"\\\1", prefix) + f":*:t{part}:*"
    # The glob's "*" after the prefix also matches ":": a longer prefix of another alias
    # ("<prefix>:x") could match it. The exact shape is checked here: one version, no ":".
    exact = re.compile(
        re.escape(f"{prefix}:".encode()) + rb"[^:]*" + re.escape(f":t{part}:".encode())
    )
    client = cache._cache.get_client(None, write=True)
    deleted = 0
    batch: list[bytes] = []
    for found in client.scan_iter(match=pattern, count=SCAN_COUNT):
        if exact.match(found):
            batch.append(found)
        if len(batch) >= DELETE_BATCH:
            deleted += client.delete(*batch)
            batch = []
    if batch:
        deleted += client.delete(*batch)
    return deleted
