"""409, 412 and 428 through the test client, as JSON and as a page; 404 across tenants."""

import pytest
from django.contrib.auth.models import User
from django.test import Client

from django_prodpatterns.context import tenant_context
from tests.testapp.models import Counter, Member, Project

pytestmark = pytest.mark.django_db
JSON = {"Accept": "application/json"}
HTML = {"Accept": "text/html"}


@pytest.mark.django_db(transaction=True)  # requests run in autocommit, as in production
@pytest.mark.parametrize("headers", [JSON, HTML], ids=["json", "html"])
def test_a_stale_write_is_a_409_and_changes_nothing(client, headers):
    row = Counter.objects.create()
    client.post(f"/counter/{row.pk}/")  # someone else saves first: version 2
    response = client.post(f"/counter/{row.pk}/", {"version": "1"}, headers=headers)
    assert response.status_code == 409
    assert response.headers["ETag"] == 'W/"2"'
    if headers is JSON:
        assert response.headers["Content-Type"] == "application/problem+json"
        body = response.json()
        assert (body["status"], body["title"], body["current_version"]) == (409, "Conflict", 2)
    else:  # a browser gets a page, not text/plain
        assert response.headers["Content-Type"] == "text/html; charset=utf-8"
        page = response.content.decode()
        assert "<h1>Conflict</h1>" in page
        assert "The current version is <strong>2</strong>" in page
    assert Counter.objects.values_list("value", "version").get(pk=row.pk) == (1, 2)


@pytest.mark.parametrize("headers", [JSON, HTML], ids=["json", "html"])
def test_if_match_412_and_428(client, headers):
    row = Counter.objects.create()
    read = client.get(f"/counter/{row.pk}/")
    assert read.headers["ETag"] == 'W/"1"'
    ok = client.post(f"/counter/{row.pk}/", headers={**headers, "If-Match": 'W/"1"'})
    assert ok.status_code == 200
    stale = client.post(f"/counter/{row.pk}/", headers={**headers, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.headers["ETag"] == 'W/"2"'
    missing = client.post(f"/counter/{row.pk}/?require=1", headers=headers)
    assert missing.status_code == 428
    if headers is JSON:
        assert missing.json()["title"] == "Precondition Required"
    assert Counter.objects.get(pk=row.pk).value == 1


@pytest.mark.django_db(transaction=True, databases=["default", "app"])
@pytest.mark.parametrize("headers", [JSON, HTML], ids=["json", "html"])
def test_another_tenants_row_is_a_404_never_a_409(tenant_pair, member_tenant, headers):
    a, b = tenant_pair
    with tenant_context(b):
        foreign = Project.objects.using("app").create(name="b's", code="b")
    user = User.objects.create_user(f"member-of-a-{headers['Accept']}")
    Member.objects.create(user=user, tenant_id=a.pk)
    client = Client()
    client.force_login(user)
    try:
        response = client.post(f"/projects/{foreign.pk}/rename/", headers=headers)
        assert response.status_code == 404
    finally:
        with tenant_context(b):
            Project.objects.using("app").all().delete()


@pytest.mark.django_db(transaction=True)
def test_a_project_without_templates_still_answers_a_browser_409(client, settings):
    """An API-only project has no template engine: the page falls back to plain text."""
    settings.TEMPLATES = []
    row = Counter.objects.create()
    client.post(f"/counter/{row.pk}/")
    response = client.post(f"/counter/{row.pk}/", {"version": "1"}, headers=HTML)
    assert response.status_code == 409
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.content.decode().startswith("Conflict")
