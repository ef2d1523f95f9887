"""The 403 of a request without a tenant: why, in DEBUG; nothing more than that, without.

A developer whose page answers "No tenant for this request." needs to know which resolver
ran, for which user, and where it stopped. Production answers must not tell a client any
of it (user ids, relation names, settings).
"""

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from tests.testapp.models import Member

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "app"])

FROM_USER = "django_prodpatterns.resolvers.from_user"
FROM_HEADER = "django_prodpatterns.resolvers.from_header"
FROM_SUBDOMAIN = "django_prodpatterns.resolvers.from_subdomain"
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


def resolve_nothing(request):
    """A project's resolver without an explanation."""
    return None


def resolve_nothing_and_say_why(request):
    return None


resolve_nothing_and_say_why.explain = lambda request: "the Host header names no customer"


def get(user=None, settings=None, headers=None, **extra):
    client = Client(**extra)
    if user is not None:
        client.force_login(user)
    with override_settings(DEBUG=True, **(settings or {})):
        response = client.get("/needs-tenant/", headers=headers or {})
    assert response.status_code == 403, response.content
    return response


def attribute(path, **prodpatterns):
    return {"PRODPATTERNS": {"TENANT_USER_ATTRIBUTE": path, **prodpatterns}}


@pytest.fixture
def alice():
    return User.objects.create_user("alice")


def test_anonymous_user(member_tenant):
    text = get().content.decode()
    assert f"Resolver: {FROM_USER}" in text
    assert "User: anonymous" in text
    assert "Reason: anonymous user (not logged in)" in text


def test_a_user_without_the_attribute(alice):
    text = get(alice, attribute("profile.tenant")).content.decode()
    assert f"User: {alice.pk} (alice)" in text
    assert f"Reason: user {alice.pk} has no attribute 'profile'" in text


def test_a_user_without_the_linked_row(alice):
    text = get(alice, attribute("member.tenant")).content.decode()
    assert f"Reason: user.member does not exist (no testapp.Member row for user {alice.pk})" in text


def test_a_link_that_is_none(alice, settings):
    """The resolver's reason on its own (what the 403 shows as "Reason")."""
    from django.test import RequestFactory

    from django_prodpatterns.resolvers import why_no_tenant

    # last_login stands in for a nullable foreign key to the tenant that is empty (the test
    # client's log-in would fill it, so the request is built by hand).
    settings.PRODPATTERNS = {"TENANT_USER_ATTRIBUTE": "last_login"}
    request = RequestFactory().get("/")
    request.user = alice
    assert alice.last_login is None
    assert why_no_tenant(request) == "user.last_login is None"


def test_a_member_of_another_tenant_through_the_header(alice, tenant_pair):
    a, b = tenant_pair
    Member.objects.create(user=alice, tenant_id=a.pk)
    settings = attribute("member.tenant", TENANT_RESOLVER=FROM_HEADER)
    text = get(alice, settings, {"X-Tenant-ID": str(b.pk)}).content.decode()
    assert f"Resolver: {FROM_HEADER}" in text
    assert f"Reason: user {alice.pk} is not a member of tenant {b.pk} (their tenants: {a.pk})" in (
        text
    )
    assert "Reason: no X-Tenant-ID header" in get(alice, settings).content.decode()
    missing = get(alice, settings, {"X-Tenant-ID": "0"}).content.decode()
    assert "Reason: X-Tenant-ID '0' names no tenant" in missing


def test_a_host_without_a_subdomain(alice, member_tenant):
    settings = attribute("member.tenant", TENANT_RESOLVER=FROM_SUBDOMAIN)
    text = get(alice, settings).content.decode()
    assert "Reason: host 'testserver' has no subdomain" in text


@pytest.mark.parametrize(
    ("resolver", "reason"),
    [
        ("resolve_nothing", "it returned None"),
        ("resolve_nothing_and_say_why", "the Host header names no customer"),
    ],
)
def test_a_resolver_of_the_projects_own(alice, resolver, reason):
    path = f"tests.test_tenant_resolution_messages.{resolver}"
    text = get(alice, {"PRODPATTERNS": {"TENANT_RESOLVER": path}}).content.decode()
    assert f"Resolver: {path}" in text
    assert f"Reason: {reason}" in text


def test_json_and_html_clients_get_the_same_explanation(alice, member_tenant):
    body = get(alice, headers=JSON).json()
    assert body["status"] == 403
    assert body["detail"] == "No tenant for this request."
    assert body["resolver"] == FROM_USER
    assert body["user"] == f"{alice.pk} (alice)"
    assert body["reason"].startswith("user.member does not exist")
    page = get(alice, headers=HTML).content.decode()
    assert "<h1>Forbidden</h1>" in page
    assert f"<code>{FROM_USER}</code>" in page
    assert "user.member does not exist" in page


@pytest.mark.parametrize("headers", [{}, JSON, HTML], ids=["text", "json", "html"])
def test_only_debug_says_why(alice, member_tenant, headers):
    """The same request: with DEBUG the resolver, the user and the reason; without, the
    one sentence as before, whatever the client accepts."""
    assert FROM_USER.encode() in get(alice, headers=headers).content
    client = Client()
    client.force_login(alice)
    response = client.get("/needs-tenant/", headers=headers)
    assert response.status_code == 403
    assert response.content == b"No tenant for this request."
    assert response.headers["Content-Type"] == "text/plain"
