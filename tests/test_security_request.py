"""A hostile tenant's requests (issue 14): no ambient tenant, no impostor tenant, no junk
request data turning audited writes into 500s.

Each test attacks one way: a tenant (or audit context) left in force by code that is still
suspended inside ``tenant_context`` (a generator), an object that merely has a ``pk`` passed
as the tenant, and request headers, paths and actors that do not fit the audit log's columns.
"""

import asyncio
import json
import uuid

import pytest
from django.contrib.auth.models import User
from django.test import AsyncClient, Client
from django.urls import re_path

from django_prodpatterns.context import (
    audit_context,
    get_audit_info,
    get_current_tenant,
    tenant_context,
)
from django_prodpatterns.models import AuditLog, Tenant
from tests.helpers import APP
from tests.testapp import views
from tests.testapp.models import Document, Member, Project

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])

# The test app's audited view under any path below /audit/touch/, so a path the attacker
# chooses (a NUL in it) reaches a write. Tests that need it are marked
# ``@pytest.mark.urls(__name__)``.
urlpatterns = [re_path(r"^audit/touch/", views.touch_document)]


@pytest.fixture
def tenant_with_project(tenant_pair):
    """Tenant A with one project (written as the application role), and tenant B."""
    a, b = tenant_pair
    with tenant_context(a):
        Project.objects.using(APP).create(name="secret of A", code="a")
    yield a, b
    with tenant_context(a):
        Project.objects.using(APP).all().delete()


def entry_for(response):
    """The audit entry of the document a touch view created (the request must be a 200)."""
    assert response.status_code == 200, response.content[:300]
    return AuditLog.objects.get(
        model="testapp.Document", object_pk=str(response.json()["pk"]), action="create"
    )


def suspended_in(context):
    """A generator paused inside ``context`` (a ``tenant_context`` or ``audit_context``):
    until it is resumed or closed, what ``context`` set stays current in the code that
    started it (generators share its context)."""

    def body():
        with context:
            yield

    paused = body()
    next(paused)
    return paused


# --- nothing the code around a request had set reaches it -----------------------------------


def test_a_request_without_tenant_does_not_inherit_the_ambient_one(tenant_with_project):
    """The sync path: the anonymous request must see no tenant (403), not A's rows."""
    a, _ = tenant_with_project
    paused = suspended_in(tenant_context(a))
    try:
        response = Client().get("/needs-tenant/")
        assert get_current_tenant() == a  # the ambient value is back after the request
    finally:
        paused.close()
    assert response.status_code == 403, response.content
    assert b"No tenant" in response.content


def test_an_async_request_without_tenant_does_not_inherit_the_ambient_one(tenant_with_project):
    """The async path: the event loop's task copies the ambient tenant into the request."""
    a, _ = tenant_with_project

    async def request():
        response = await AsyncClient().get("/needs-tenant/")
        return response, get_current_tenant()

    paused = suspended_in(tenant_context(a))
    try:
        response, after = asyncio.run(request())
    finally:
        paused.close()
    assert after == a
    assert response.status_code == 403, response.content
    assert b"No tenant" in response.content


def test_a_resolved_tenant_still_replaces_the_ambient_one(tenant_with_project, member_tenant):
    """The fix must not stop a request from running in the tenant it resolves."""
    a, b = tenant_with_project
    user = User.objects.create_user("member-of-b")
    Member.objects.create(user=user, tenant_id=b.pk)
    client = Client()
    client.force_login(user)
    paused = suspended_in(tenant_context(a))
    try:
        response = client.get("/needs-tenant/")
    finally:
        paused.close()
    assert (response.status_code, response.json()) == (200, {"count": 0})  # B has none


@pytest.mark.parametrize("client_class", [Client, AsyncClient], ids=["sync", "async"])
def test_a_request_does_not_inherit_the_ambient_audit_context(client_class):
    """The same for ``audit_context``: a reason, an address or extras left current must not
    be written into the request's entries (the sync request's own address is junk, so none;
    the async test client always sends 127.0.0.1)."""
    ambient = audit_context(reason="not this request's", ip_address="192.0.2.1", batch="b")
    headers = {"X-Request-ID": "req-1"}

    async def send():
        response = await AsyncClient().get("/audit/atouch/", headers=headers)
        return response, get_audit_info()

    paused = suspended_in(ambient)
    try:
        if client_class is Client:
            response = Client().get("/audit/touch/", headers=headers, REMOTE_ADDR="-")
            after = get_audit_info()
        else:
            response, after = asyncio.run(send())
    finally:
        paused.close()
    assert after is not None and after.reason == "not this request's"  # restored
    entry = entry_for(response)
    assert (entry.request_id, entry.reason, entry.extra) == ("req-1", None, None)
    assert entry.ip_address == (None if client_class is Client else "127.0.0.1")


# --- tenant_context() takes a tenant, its key, or None -------------------------------------


class HasPk:
    """Any object with a ``pk``, e.g. a form's cleaned value or a DRF serializer's user."""

    pk = 1


@pytest.mark.parametrize(
    "impostor",
    [
        pytest.param(User(pk=1, username="u"), id="request.user"),
        pytest.param(Member(pk=1), id="another model's row"),
        pytest.param(Project(pk=1), id="a tenant model's row"),
        pytest.param(HasPk(), id="an object with pk"),
        pytest.param(True, id="a bool"),
        pytest.param(1.0, id="a float"),
        pytest.param([1], id="a list"),
    ],
)
def test_tenant_context_refuses_what_is_not_a_tenant(impostor):
    """Only a tenant, its key or None: anything else once became "the tenant whose pk is
    the same", silently."""
    with pytest.raises(TypeError, match=r"the tenant model \(prodpatterns\.Tenant\), its primary"):
        tenant_context(impostor)
    assert get_current_tenant() is None


@pytest.mark.parametrize(
    "tenant",
    [
        pytest.param(Tenant(pk=3, name="t", slug="t"), id="a tenant"),
        pytest.param(None, id="None"),
        pytest.param(3, id="an int key"),
        pytest.param("3", id="a text key"),
        pytest.param(uuid.UUID(int=3), id="a UUID key"),
    ],
)
def test_tenant_context_takes_a_tenant_its_key_or_none(tenant):
    """A key stays accepted: it is documented (scripts, tasks and the leak kit use it)."""
    with tenant_context(tenant):
        assert get_current_tenant() is tenant


def test_a_user_whose_pk_is_a_tenants_pk_reads_nothing_of_it(tenant_with_project):
    """The attack itself: ``tenant_context(request.user)`` scoped to the tenant with the
    user's pk and showed its rows."""
    a, _ = tenant_with_project
    impostor = User(pk=a.pk, username="impostor")
    seen = None
    with pytest.raises(TypeError, match=r"not auth\.User"), tenant_context(impostor):
        seen = list(Project.objects.using(APP).values_list("name", flat=True))
    assert seen is None


# --- request data is cleaned before it reaches the audit log --------------------------------

TRUSTED_PROXY = "10.0.0.1"
LONG_AGENT = "agent/" + "x" * 994  # 1000 characters: kept whole, the column is text


@pytest.fixture
def trusted_proxy(settings):
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "AUDIT_TRUSTED_PROXIES": [TRUSTED_PROXY]}


@pytest.mark.urls(__name__)
@pytest.mark.usefixtures("trusted_proxy")
@pytest.mark.parametrize(
    ("url", "headers", "expected"),
    [
        pytest.param(
            "/audit/touch/",
            {"X-Forwarded-For": "not-an-ip"},
            {"ip_address": None},
            id="junk forwarded hop",
        ),
        pytest.param(
            "/audit/touch/",
            {"X-Forwarded-For": "2001:db8::" + "1" * 50},
            {"ip_address": None},
            id="60-character forwarded hop",
        ),
        pytest.param(
            "/audit/touch/",
            {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"},
            {"ip_address": "198.51.100.7"},
            id="valid forwarded hop kept",
        ),
        pytest.param(
            "/audit/touch/",
            {"X-Forwarded-For": "2001:DB8:0:0:0:0:0:1"},
            {"ip_address": "2001:db8::1"},
            id="IPv6 hop stored in its short form",
        ),
        pytest.param(
            "/audit/touch/",
            {"User-Agent": "evil\x00agent"},
            {"user_agent": "evilagent"},
            id="NUL in user agent",
        ),
        pytest.param(
            "/audit/touch/",
            {"User-Agent": LONG_AGENT + "truncated"},
            {"user_agent": LONG_AGENT},
            id="long user agent",
        ),
        pytest.param(
            "/audit/touch/a%00b",
            {},
            {"path": "/audit/touch/ab"},
            id="NUL in path",
        ),
        pytest.param(
            "/audit/touch/",
            {"X-Request-ID": "r" * 300},
            {"request_id": "r" * 255},
            id="300-character request id",
        ),
        pytest.param(
            "/audit/touch/",
            {"X-Request-ID": "  req-7  "},
            {"request_id": "req-7"},
            id="request id trimmed",
        ),
    ],
)
def test_junk_request_data_is_cleaned_not_a_500(url, headers, expected):
    """Every one of these is written by the client; each made the audit trigger fail (a 500
    for every audited write) or stored what is not what the column means. The proxy is
    trusted, so X-Forwarded-For is read."""
    response = Client().get(url, headers=headers, REMOTE_ADDR=TRUSTED_PROXY)
    entry = entry_for(response)
    for field, value in expected.items():
        assert getattr(entry, field) == value, field
    assert entry.request_id == response.headers["X-Request-ID"]


@pytest.mark.parametrize(
    "request_id",
    [
        pytest.param("req\r\nSet-Cookie: sessionid=stolen", id="CR/LF"),
        pytest.param("req\x00id", id="NUL"),
        pytest.param("req\x1bid", id="escape"),
        pytest.param("   ", id="blank"),
    ],
)
@pytest.mark.parametrize("client_class", [Client, AsyncClient], ids=["sync", "async"])
def test_a_request_id_with_control_characters_is_replaced(request_id, client_class):
    """The id is echoed in the response headers and stored: a fresh one is used instead,
    so nothing can be injected into either."""

    async def send():
        return await client_class().get("/audit/atouch/", headers={"X-Request-ID": request_id})

    if client_class is Client:
        response = Client().get("/audit/touch/", headers={"X-Request-ID": request_id})
    else:
        response = asyncio.run(send())
    entry = entry_for(response)
    assert len(entry.request_id) == 32 and entry.request_id.isalnum(), entry.request_id
    assert response.headers["X-Request-ID"] == entry.request_id
    assert "Set-Cookie" not in response.headers


def test_an_actor_whose_str_is_too_long_is_truncated(monkeypatch):
    """A custom user model's ``__str__`` (full name and e-mail, say) may exceed the column."""
    user = User.objects.create_user("long")
    monkeypatch.setattr(User, "__str__", lambda self: f"{self.username}:" + "n" * 300)
    client = Client()
    client.force_login(user)
    entry = entry_for(client.get("/audit/touch/"))
    assert entry.actor_id == str(user.pk)
    assert entry.actor_repr == "long:" + "n" * 250


def test_an_actor_whose_str_has_nul_is_cleaned(monkeypatch):
    """PostgreSQL refuses a NUL in the context's JSON: the write would fail, not the actor."""
    user = User.objects.create_user("nul")
    monkeypatch.setattr(User, "__str__", lambda self: "nul\x00user")
    client = Client()
    client.force_login(user)
    assert entry_for(client.get("/audit/touch/")).actor_repr == "nuluser"


class Named:
    """An actor that is not a model: what a task or script may pass."""

    def __init__(self, pk, name):
        self.pk = pk
        self.name = name

    def __str__(self):
        return self.name


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param({"ip_address": "junk"}, {}, id="invalid ip dropped"),
        pytest.param({"ip_address": "1" * 60}, {}, id="over-long ip dropped"),
        pytest.param({"ip_address": " 10.0.0.1 "}, {"ip_address": "10.0.0.1"}, id="ip trimmed"),
        pytest.param({"request_id": "q" * 300}, {"request_id": "q" * 255}, id="long request id"),
        pytest.param({"path": "/a\x00b"}, {"path": "/ab"}, id="NUL in path"),
        pytest.param({"user_agent": "\x00"}, {}, id="only NUL: left out"),
        pytest.param({"reason": "why\x00not"}, {"reason": "whynot"}, id="NUL in reason"),
        pytest.param(
            {"actor": Named(7, "a" * 300)},
            {"actor_id": "7", "actor_repr": "a" * 255},
            id="long actor str",
        ),
        pytest.param(
            {"note": {"k\x00": ["v\x00", "\\u0000"]}},
            {"extra": {"note": {"k": ["v", "\\u0000"]}}},
            id="NUL in extra, a literal backslash-u0000 kept",
        ),
    ],
)
def test_audit_context_cleans_values_from_any_caller(values, expected):
    """Tasks and scripts reach the log through ``audit_context`` directly, not the
    middleware: the same limits apply, so no caller can make every audited write fail."""
    with audit_context(**values):
        assert json.loads(get_audit_info().as_json) == expected


def test_cleaned_values_are_written_by_the_trigger():
    """The database end: the same junk, under ``audit_context``, writes a row (no 500)."""
    with audit_context(
        actor=Named(7, "x" * 300),
        reason="r\x00",
        request_id="i" * 300,
        ip_address="2001:db8::" + "1" * 50,
        user_agent="u\x00a",
        path="/p\x00",
    ):
        document = Document.objects.using(APP).create(title="t")
    entry = AuditLog.objects.get(object_pk=str(document.pk), action="create")
    assert (entry.actor_repr, entry.reason, entry.request_id) == ("x" * 255, "r", "i" * 255)
    assert (entry.ip_address, entry.user_agent, entry.path) == (None, "ua", "/p")
