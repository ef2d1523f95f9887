"""The audit log in the admin, through the test client."""

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from django_prodpatterns.context import tenant_context
from django_prodpatterns.middleware import resolve_tenant
from django_prodpatterns.models import AuditLog
from tests.testapp.models import Document, Member, Ticket

pytestmark = pytest.mark.django_db
CHANGELIST = reverse("admin:prodpatterns_auditlog_changelist")


def listed(response):
    return [e.pk for e in response.context["cl"].result_list]


def resolver_queries(user):
    """The queries the configured tenant resolver spends on ``user`` in each request: none
    with the default ``TENANT_USER_ATTRIBUTE``, one for ``user.member`` with "member.tenant"."""
    request = RequestFactory().get("/")
    request.user = type(user).objects.get(pk=user.pk)
    with CaptureQueriesContext(connection) as captured:
        assert resolve_tenant(request) is None  # the superuser is no tenant's member
    return len(captured)


def test_read_only_list_filters_search_and_diff(admin_client, admin_user):
    d = Document.objects.create(title="v1")
    d.title = "v2"
    d.save()
    response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert len(listed(response)) == 2
    assert b"Add audit log entry" not in response.content
    update = AuditLog.objects.get(action="update")
    assert listed(admin_client.get(CHANGELIST, {"action": "update"})) == [update.pk]
    assert len(listed(admin_client.get(CHANGELIST, {"model": "testapp.Document"}))) == 2
    assert listed(admin_client.get(CHANGELIST, {"q": str(d.pk)})) != []
    assert listed(admin_client.get(CHANGELIST, {"q": "no-such-request"})) == []
    assert len(listed(admin_client.get(CHANGELIST, {"since": "1"}))) == 2
    detail = admin_client.get(reverse("admin:prodpatterns_auditlog_change", args=[update.pk]))
    page = detail.content.decode()
    assert '<table class="audit-diff">' in page
    assert "<td>title</td><td>v1</td><td>v2</td>" in page
    assert (
        admin_client.post(
            reverse("admin:prodpatterns_auditlog_delete", args=[update.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    assert AuditLog.objects.filter(pk=update.pk).exists()


def test_actor_filter(admin_client, admin_user):
    from django_prodpatterns.context import audit_context

    with audit_context(actor=admin_user):
        Document.objects.create(title="by admin")
    Document.objects.create(title="by nobody")
    response = admin_client.get(CHANGELIST, {"actor": str(admin_user.pk)})
    assert [AuditLog.objects.get(pk=pk).snapshot["title"] for pk in listed(response)] == [
        "by admin"
    ]


def test_history_link_opens_the_objects_entries(admin_client):
    d = Document.objects.create(title="x")
    history = admin_client.get(reverse("admin:testapp_document_history", args=[d.pk]))
    assert history.status_code == 302
    response = admin_client.get(history.url)
    assert [AuditLog.objects.get(pk=pk).object_pk for pk in listed(response)] == [str(d.pk)]


def test_plain_admins_of_audited_models_get_the_history_link_too(admin_client):
    response = admin_client.get(reverse("admin:testapp_ticket_history", args=[5]))
    assert response.status_code == 302
    assert "model=testapp.Ticket" in response.url
    assert "q=5" in response.url


def test_revert_shows_the_diff_then_reverts_and_is_audited(admin_client):
    d = Document.objects.create(title="original", body="b1")
    first = AuditLog.objects.get(action="create")
    d.title, d.body = "changed", "b2"
    d.save()
    url = reverse("admin:prodpatterns_auditlog_revert", args=[first.pk])
    preview = admin_client.get(url).content.decode()
    assert "<td>title</td><td>changed</td><td>original</td>" in preview
    assert Document.objects.get().title == "changed"
    assert admin_client.post(url).status_code == 302
    d.refresh_from_db()
    assert (d.title, d.body) == ("original", "b1")
    last = AuditLog.objects.order_by("-id").first()
    assert last.action == "update"
    assert last.reason == f"revert to audit entry {first.pk}"
    assert last.changes["title"] == ["changed", "original"]


@pytest.mark.parametrize("n", [10, 10_000])
def test_changelist_query_count_does_not_grow(
    admin_client, admin_user, django_assert_num_queries, n
):
    with connection.cursor() as cursor:  # the owner may insert directly
        cursor.execute(
            "INSERT INTO prodpatterns_auditlog (timestamp, model, object_pk, action)"
            " SELECT now(), 'testapp.Document', g::text, 'create' FROM generate_series(1, %s) g",
            [n],
        )
        cursor.execute("ANALYZE prodpatterns_auditlog")
    admin_client.get(CHANGELIST)  # session and user loaded once
    with django_assert_num_queries(QUERIES + resolver_queries(admin_user)) as captured:
        response = admin_client.get(CHANGELIST)
    sql = [q["sql"] for q in captured.captured_queries]
    # never a full-table COUNT(*) on a big log: the estimate comes from pg_class
    assert not any(s.upper().startswith("SELECT COUNT(*)") for s in sql)
    assert len(listed(response)) == min(n, 50)


# The same for 10 and 10,000 entries, besides the tenant resolver's. (6 since TenantMiddleware
# reads the session, for a staff member's chosen tenant, before the user: the user is no
# longer loaded a second time while the first statement works out its audit actor.)
QUERIES = 6


@pytest.mark.django_db(transaction=True, databases=["default", "app"])
@override_settings(DATABASE_ROUTERS=["tests.routers.AuditReadsAsApp"])
def test_a_tenants_staff_see_only_their_tenants_entries(client, tenant_pair, member_tenant):
    _, b = tenant_pair
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Ticket.objects.using("app").create(subject=f"of {tenant.pk}")
    staff_a = User.objects.create_user("staff-a", is_staff=True)
    Member.objects.create(user=staff_a, tenant_id=tenant_pair[0].pk)
    staff = User.objects.create_user("staff-b", is_staff=True)
    staff.user_permissions.add(
        *__import__(
            "django.contrib.auth.models", fromlist=["Permission"]
        ).Permission.objects.filter(codename="view_auditlog")
    )
    Member.objects.create(user=staff, tenant_id=b.pk)
    client.force_login(staff)
    try:
        response = client.get(CHANGELIST, {"model": "testapp.Ticket"})
        subjects = [e.snapshot["subject"] for e in response.context["cl"].result_list]
        assert subjects == [f"of {b.pk}"]
        actors = dict(response.context["cl"].filter_specs[2].lookup_choices)
        assert list(actors.values()) == ["staff-b"]  # no staff of other tenants named
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Ticket.objects.using("app").all().delete()
