"""Who wrote it: actors and request details reach each audit entry, sync and async."""

import asyncio

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from django.test import AsyncClient, Client

from django_prodpatterns.context import audit_context
from django_prodpatterns.models import AuditLog
from tests.helpers import APP
from tests.testapp.models import Document

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])


def entry_for(pk):
    return AuditLog.objects.get(model="testapp.Document", object_pk=str(pk), action="create")


def test_session_authenticated_request():
    user = User.objects.create_user("sam")
    client = Client()
    client.force_login(user)
    response = client.get(
        "/audit/touch/",
        headers={"X-Request-ID": "req-123", "User-Agent": "pytest-agent"},
        REMOTE_ADDR="10.1.2.3",
    )
    entry = entry_for(response.json()["pk"])
    assert (entry.actor_id, entry.actor_repr) == (str(user.pk), "sam")
    assert entry.actor == user
    assert (entry.request_id, entry.user_agent, entry.ip_address, entry.path) == (
        "req-123",
        "pytest-agent",
        "10.1.2.3",
        "/audit/touch/",
    )
    assert response.headers["X-Request-ID"] == "req-123"


def test_a_request_id_is_generated_when_none_is_sent():
    response = Client().get("/audit/touch/")
    entry = entry_for(response.json()["pk"])
    assert entry.request_id == response.json()["request_id"]
    assert len(entry.request_id) == 32
    assert entry.actor_id is None  # anonymous


def test_user_authenticated_inside_the_view_is_the_actor():
    token_user = User.objects.create_user("token-user")
    response = Client().get("/audit/touch/", headers={"X-Token-User": "token-user"})
    assert entry_for(response.json()["pk"]).actor_id == str(token_user.pk)


def test_forwarded_for_is_believed_only_from_trusted_proxies(settings):
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "AUDIT_TRUSTED_PROXIES": ["10.0.0.1"]}
    forwarded = {"X-Forwarded-For": "203.0.113.9, 10.0.0.1"}
    trusted = Client().get("/audit/touch/", headers=forwarded, REMOTE_ADDR="10.0.0.1")
    untrusted = Client().get("/audit/touch/", headers=forwarded, REMOTE_ADDR="198.51.100.7")
    assert entry_for(trusted.json()["pk"]).ip_address == "203.0.113.9"
    assert entry_for(untrusted.json()["pk"]).ip_address == "198.51.100.7"


def test_twenty_concurrent_async_requests_by_different_users():
    users = [User.objects.create_user(f"async-{i}") for i in range(20)]
    clients = []
    for user in users:
        client = AsyncClient()
        client.force_login(user)
        clients.append(client)

    async def main():
        return await asyncio.gather(
            *(c.get("/audit/atouch/", {"title": f"by-{i}"}) for i, c in enumerate(clients))
        )

    responses = asyncio.run(main())
    for i, response in enumerate(responses):
        entry = entry_for(response.json()["pk"])
        assert entry.actor_id == str(users[i].pk)
        assert entry.snapshot["title"] == f"by-{i}"


def test_management_command_under_audit_context():
    admin = User.objects.create_user("operator")
    document = Document.objects.create(title="doomed")
    with audit_context(actor=admin, reason="ticket 42"):
        call_command("soft_delete", "testapp.Document", "--pk", str(document.pk))
    entry = AuditLog.objects.get(object_pk=str(document.pk), action="soft_delete")
    assert (entry.actor_id, entry.reason) == (str(admin.pk), "ticket 42")


def test_nested_audit_context_adds_without_rewriting_earlier_entries():
    outer_user = User.objects.create_user("outer")
    with audit_context(actor=outer_user, reason="outer", batch="b1"):
        Document.objects.create(title="first")
        with audit_context(reason="inner"):
            Document.objects.create(title="second")
        Document.objects.create(title="third")
    entries = {e.snapshot["title"]: e for e in AuditLog.objects.filter(action="create")}
    assert [entries[t].reason for t in ("first", "second", "third")] == [
        "outer",
        "inner",
        "outer",
    ]
    assert {entries[t].actor_id for t in entries} == {str(outer_user.pk)}
    assert entries["second"].extra == {"batch": "b1"}
