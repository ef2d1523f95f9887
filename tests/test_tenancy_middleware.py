"""TenantMiddleware end to end: one tenant per request, nothing carried to the next."""

import asyncio

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client, override_settings

from django_prodpatterns.context import tenant_context
from tests.helpers import APP
from tests.testapp.models import Member, Project

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])


@pytest.fixture
def two_tenants(tenant_pair, member_tenant):
    """Tenants A and B, a user in each, and one project per tenant (written as the app role).

    Users are members through ``Member``, so TENANT_USER_ATTRIBUTE is "member.tenant".
    """
    users = []
    for tenant, name in zip(tenant_pair, ("alpha", "beta"), strict=True):
        user = User.objects.create_user(f"user-{name}")
        Member.objects.create(user=user, tenant_id=tenant.pk)
        with tenant_context(tenant):
            Project.objects.using(APP).create(name=name, code=name)
        users.append(user)
    yield tenant_pair, users
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Project.objects.using(APP).all().delete()


def client_for(user, client_class=Client):
    client = client_class()
    client.force_login(user)
    return client


def test_each_request_sees_its_own_tenant(two_tenants):
    (a, _), (user_a, _) = two_tenants
    body = client_for(user_a).get("/projects/").json()
    assert body["tenant"] == a.pk
    assert body["names"] == ["alpha"]
    assert body["raw"] == 1  # raw SQL sees one tenant's rows too


@override_settings(CONN_MAX_AGE=600)
def test_a_persistent_connection_serves_a_then_b_without_leaking(two_tenants):
    _, (user_a, user_b) = two_tenants
    first = client_for(user_a).get("/projects/").json()
    second = client_for(user_b).get("/projects/").json()
    assert first["pid"] == second["pid"]  # the same database session served both
    assert (first["names"], second["names"]) == (["alpha"], ["beta"])
    assert (first["raw"], second["raw"]) == (1, 1)


def test_no_tenant_is_a_403_not_a_500_and_no_data(two_tenants, client):
    response = client.get("/needs-tenant/")  # anonymous: no tenant resolved
    assert response.status_code == 403
    assert b"No tenant" in response.content


@override_settings(
    PRODPATTERNS={
        "TENANT_RESOLVER": "django_prodpatterns.resolvers.from_header",
        "TENANT_USER_ATTRIBUTE": "member.tenant",
    }
)
def test_a_header_is_accepted_only_for_a_member(two_tenants):
    (a, b), (user_a, _) = two_tenants
    client = client_for(user_a)
    assert client.get("/projects/", headers={"X-Tenant-ID": str(a.pk)}).json()["names"] == ["alpha"]
    assert client.get("/needs-tenant/", headers={"X-Tenant-ID": str(b.pk)}).status_code == 403
    assert client.get("/needs-tenant/", headers={"X-Tenant-ID": "not-a-key"}).status_code == 403


def test_fifty_concurrent_async_requests_alternating_tenants(two_tenants):
    (a, b), users = two_tenants
    clients = [client_for(user, AsyncClient) for user in users]

    async def main():
        responses = await asyncio.gather(*(clients[i % 2].get("/aprojects/") for i in range(50)))
        return [(r.status_code, r.json()) for r in responses]

    results = asyncio.run(main())
    expected = [(200, {"tenant": t.pk, "names": [n]}) for t, n in ((a, "alpha"), (b, "beta"))]
    assert results == [expected[i % 2] for i in range(50)]
