"""Django REST framework end to end: the tenant and the audit actor come from the user DRF
authenticated (token, Basic), and versioned serializers refuse stale or missing versions.

Requests go through the whole middleware stack of tests/settings.py; the views read and
write through the application role's alias, so row level security decides what they see.
"""

import base64

import pytest
from django.contrib.auth.models import User
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import AuditLog
from django_prodpatterns.resolvers import from_user
from tests.composed.models import Invoice
from tests.helpers import APP, delete_in_each_tenant
from tests.testapp.models import Member

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])
PASSWORD = "pw-for-tests"


@pytest.fixture
def shops(tenant_pair, member_tenant, settings):
    """Tenants A and B, a user in each (``Member``), one invoice per tenant."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    users, invoices = [], []
    for tenant, name in zip(tenant_pair, ("alpha", "beta"), strict=True):
        user = User.objects.create_user(f"drf-{name}", password=PASSWORD)
        Member.objects.create(user=user, tenant_id=tenant.pk)
        with tenant_context(tenant):
            invoices.append(Invoice.objects.using(APP).create(number=f"{name}-1"))
        users.append(user)
    yield tenant_pair, users, invoices
    delete_in_each_tenant(tenant_pair, Invoice)


def token_client(user):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    return client


def basic_client(user):
    client = APIClient()
    secret = base64.b64encode(f"{user.username}:{PASSWORD}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {secret}")
    return client


@pytest.mark.parametrize("make_client", [token_client, basic_client], ids=["token", "basic"])
def test_drf_authenticated_clients_see_their_tenants_rows_only(shops, make_client):
    _, (alpha, beta), (invoice_a, invoice_b) = shops
    for user, own, other in ((alpha, invoice_a, invoice_b), (beta, invoice_b, invoice_a)):
        client = make_client(user)
        response = client.get("/api/invoices/")
        assert response.status_code == 200, response.content
        assert [row["number"] for row in response.json()] == [own.number]
        assert client.get(f"/api/invoices/{own.pk}/").status_code == 200
        assert client.get(f"/api/invoices/{other.pk}/").status_code == 404


def test_no_tenant_is_a_drf_403_never_a_500(shops):
    loner = User.objects.create_user("drf-without-tenant")
    for client in (token_client(loner), APIClient()):  # authenticated without tenant; anonymous
        response = client.get("/api/invoices/")
        assert response.status_code == 403
        assert response.headers["Content-Type"] == "application/json"  # DRF's error format
        assert response.json() == {"detail": "No tenant for this request."}


def audit_entries(tenant, invoice):
    with tenant_context(tenant):
        return list(
            AuditLog.objects.using(APP)
            .filter(model="composed.Invoice", object_pk=str(invoice.pk))
            .order_by("timestamp", "pk")
            .values_list("action", "actor_id")
        )


@pytest.mark.parametrize("audit_middleware", [True, False], ids=["middleware", "no-middleware"])
def test_audit_entries_name_the_token_user(shops, settings, audit_middleware):
    """The actor is the user DRF authenticated, with or without AuditContextMiddleware."""
    if not audit_middleware:
        settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "AuditContext" not in m]
    (a, _), (alpha, _), _ = shops
    client = token_client(alpha)
    created = client.post("/api/invoices/", {"number": "alpha-2"}, format="json")
    assert created.status_code == 201, created.content
    invoice = Invoice(pk=created.json()["id"])
    patched = client.patch(
        f"/api/invoices/{invoice.pk}/", {"note": "paid", "version": 1}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert audit_entries(a, invoice) == [("create", str(alpha.pk)), ("update", str(alpha.pk))]


def current(tenant, invoice):
    with tenant_context(tenant):
        return Invoice.objects.using(APP).values_list("note", "version").get(pk=invoice.pk)


def test_a_stale_version_is_a_409_and_writes_nothing(shops, django_assert_num_queries):
    (a, _), (alpha, _), (invoice, _) = shops
    client = token_client(alpha)
    url = f"/api/invoices/{invoice.pk}/"
    first = client.patch(url, {"note": "first", "version": 1}, format="json")
    assert first.status_code == 200
    assert first.json()["version"] == 2
    with django_assert_num_queries(3, connection=connections[APP]):
        # get_object(), the version-checked UPDATE, the SELECT that reports the version
        stale = client.patch(url, {"note": "stale", "version": 1}, format="json")
    assert stale.status_code == 409
    assert stale.headers["ETag"] == 'W/"2"'
    assert "version 2" in stale.json()["detail"]
    assert current(a, invoice) == ("first", 2)


@pytest.mark.parametrize("method", ["patch", "put"])
def test_an_update_without_version_is_a_400_and_writes_nothing(shops, method):
    (a, _), (alpha, _), (invoice, _) = shops
    body = {"number": invoice.number, "note": "blind"}
    response = getattr(token_client(alpha), method)(
        f"/api/invoices/{invoice.pk}/", body, format="json"
    )
    assert response.status_code == 400
    assert response.json() == {"version": ["This field is required."]}
    assert current(a, invoice) == ("", 1)


def test_if_match_stale_is_412_and_missing_when_required_is_428(shops):
    (a, _), (alpha, _), (invoice, _) = shops
    client = token_client(alpha)
    ok = client.patch(
        f"/api/strict-invoices/{invoice.pk}/",
        {"note": "ok"},  # If-Match names the version: the body may leave it out
        format="json",
        headers={"If-Match": 'W/"1"'},
    )
    assert ok.status_code == 200, ok.content
    assert ok.headers["ETag"] == 'W/"2"'
    stale = client.patch(
        f"/api/invoices/{invoice.pk}/",
        {"note": "stale"},
        format="json",
        headers={"If-Match": '"1"'},
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == 'W/"2"'
    missing = client.patch(
        f"/api/strict-invoices/{invoice.pk}/", {"note": "blind", "version": 2}, format="json"
    )
    assert missing.status_code == 428
    assert missing.json()["detail"].startswith("This request must carry If-Match")
    assert client.delete(f"/api/strict-invoices/{invoice.pk}/").status_code == 428
    assert current(a, invoice) == ("ok", 2)


def test_etag_on_get_create_and_update(shops):
    _, (alpha, _), (invoice, _) = shops
    client = token_client(alpha)
    read = client.get(f"/api/invoices/{invoice.pk}/")
    assert (read.headers["ETag"], read.json()["version"]) == ('W/"1"', 1)
    updated = client.put(
        f"/api/invoices/{invoice.pk}/",
        {"number": invoice.number, "note": "x", "version": 1},
        format="json",
    )
    assert (updated.headers["ETag"], updated.json()["version"]) == ('W/"2"', 2)
    created = client.post("/api/invoices/", {"number": "alpha-3", "version": 7}, format="json")
    assert (created.headers["ETag"], created.json()["version"]) == ('W/"1"', 1)
    assert "ETag" not in client.get("/api/invoices/").headers  # a list has no one version


RESOLVED_FOR = []


def recording_resolver(request):
    """The built-in resolver, noting which kind of request each call was given."""
    RESOLVED_FOR.append(type(request).__name__)
    return from_user(request)


def test_session_clients_work_and_the_resolver_runs_once_after_drf(shops, settings):
    """TenantMiddleware leaves marked DRF views alone: the resolver runs once, on the DRF
    request, also for session users whom the middleware could have resolved itself."""
    settings.PRODPATTERNS = {
        **settings.PRODPATTERNS,
        "TENANT_RESOLVER": "tests.test_drf_integration.recording_resolver",
    }
    _, (alpha, _), (invoice, _) = shops
    client = APIClient()
    client.force_login(alpha)
    RESOLVED_FOR.clear()
    response = client.get("/api/invoices/")
    assert [row["id"] for row in response.json()] == [invoice.pk]
    assert RESOLVED_FOR == ["Request"]  # DRF's, not the WSGIRequest the middleware sees
    RESOLVED_FOR.clear()
    assert client.get("/projects/").status_code == 200  # other views: still the middleware
    assert RESOLVED_FOR == ["WSGIRequest"]
