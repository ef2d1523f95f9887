"""The Python end of the context channel: values, nesting, token resets, async."""

import asyncio
import contextvars
import json

import pytest

from django_prodpatterns.context import (
    audit_context,
    channel_values,
    get_audit_info,
    get_current_actor,
    get_current_tenant,
    get_current_tenant_pk,
    require_tenant_pk,
    tenant_context,
    without_audit_context,
)


class Obj:
    def __init__(self, pk, name="obj"):
        self.pk = pk
        self.name = name

    def __str__(self):
        return self.name


def test_tenant_context_sets_and_restores():
    assert get_current_tenant() is None
    with tenant_context("a") as value:
        assert value == "a"
        assert get_current_tenant() == "a"
    assert get_current_tenant() is None


def test_nested_tenant_contexts_restore_the_outer_value():
    with tenant_context("outer"):
        with tenant_context("inner"):
            assert get_current_tenant() == "inner"
            with tenant_context(None):
                assert get_current_tenant() is None
            assert get_current_tenant() == "inner"
        assert get_current_tenant() == "outer"
    assert get_current_tenant() is None


def test_context_is_restored_when_the_block_raises():
    with pytest.raises(RuntimeError), tenant_context("a"), audit_context(actor=Obj(1)):
        raise RuntimeError
    assert get_current_tenant() is None
    assert get_current_actor() is None


def test_same_context_object_can_be_reentered():
    ctx = tenant_context("a")
    with ctx, tenant_context("b"), ctx:
        assert get_current_tenant() == "a"
    assert get_current_tenant() is None


def test_nested_audit_context_adds_to_the_outer_one():
    user = Obj(7, "alice")
    with audit_context(actor=user, request_id="r1", ip_address="10.0.0.1", ticket=12):
        with audit_context(reason="cleanup", batch="b"):
            info = get_audit_info()
            assert info.actor is user
            assert info.reason == "cleanup"
            assert info.request_id == "r1"
            assert info.ip_address == "10.0.0.1"
            assert dict(info.extra) == {"ticket": 12, "batch": "b"}
        assert get_audit_info().reason is None
        assert dict(get_audit_info().extra) == {"ticket": 12}
        assert get_current_actor() is user
    assert get_audit_info() is None


def test_audit_json_snapshot_leaves_out_empty_values():
    with audit_context(actor=Obj(7, "alice"), reason="why", user_agent="UA/1"):
        data = json.loads(get_audit_info().as_json)
    assert data == {"actor_id": "7", "actor_repr": "alice", "reason": "why", "user_agent": "UA/1"}


def test_async_with_sets_and_restores():
    async def main():
        async with tenant_context("t"), audit_context(actor=Obj(1)):
            inside = (get_current_tenant(), get_current_actor().pk)
        return inside, (get_current_tenant(), get_current_actor())

    inside, after = asyncio.run(main())
    assert inside == ("t", 1)
    assert after == (None, None)


def test_concurrent_tasks_keep_their_own_values():
    async def worker(n, seen):
        async with tenant_context(n):
            for _ in range(5):
                await asyncio.sleep(0)
                seen.append((n, get_current_tenant()))

    async def main():
        seen = []
        await asyncio.gather(*(worker(n, seen) for n in range(20)))
        return seen

    seen = asyncio.run(main())
    assert len(seen) == 100
    assert all(n == value for n, value in seen)


def test_copied_context_carries_the_tenant_into_other_code():
    with tenant_context("x"):
        ctx = contextvars.copy_context()
    assert get_current_tenant() is None
    assert ctx.run(get_current_tenant) == "x"


@pytest.mark.parametrize(
    ("obj", "key"),
    [(None, ""), (Obj(5), "5"), (Obj(None), ""), (7, "7"), ("acme", "acme")],
)
def test_the_channel_names_an_actor_by_primary_key(obj, key):
    with audit_context(actor=obj):
        assert channel_values()[:2] == ("", key)


def test_the_channel_sends_nothing_outside_every_context_and_the_tenants_key_inside():
    assert channel_values() is None
    with tenant_context(7):
        assert channel_values() == ("7", "", "")
        with audit_context(reason="r"):
            tenant, actor, details = channel_values()
            assert (tenant, actor, json.loads(details)["reason"]) == ("7", "", "r")


def test_only_require_tenant_pk_raises_without_a_tenant():
    """The three getters: two answer None outside a tenant, the third raises, naming the
    model that needed one."""
    from django_prodpatterns.exceptions import TenantRequired
    from tests.testapp.models import Label

    assert get_current_tenant() is None and get_current_tenant_pk() is None
    with pytest.raises(TenantRequired, match=r"^testapp\.Label is tenant-scoped"):
        require_tenant_pk(Label)
    with tenant_context(3):
        assert (get_current_tenant(), get_current_tenant_pk(), require_tenant_pk(Label)) == (
            3,
            3,
            3,
        )


def test_without_audit_context_clears_the_outer_one_and_gives_it_back():
    with audit_context(reason="outer"):
        with without_audit_context():
            assert get_audit_info() is None
            with audit_context(reason="inner"):
                assert get_audit_info().reason == "inner"  # starts from nothing
        assert get_audit_info().reason == "outer"
