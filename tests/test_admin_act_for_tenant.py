"""Staff without a tenant in the admin: an explanation, and an audited way to act for one.

Row level security shows a request only its tenant's rows, so a superuser who belongs to
no tenant gets a 403 on every tenant model's admin page. The admin now says why, and staff
holding ``prodpatterns.act_for_tenant`` can choose a tenant to act for: the choice is
recorded (a ``TenantAccess`` row, and so an audit entry through the capture path), kept in
the session, re-checked on every request, shown on every admin page, and left in one click.
"""

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client, override_settings
from django.urls import reverse

from django_prodpatterns.acting import SESSION_KEY
from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import AuditLog, Tenant, TenantAccess
from tests.helpers import APP
from tests.testapp.models import Member, Ticket

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP, "cross_tenant"])

TICKETS = reverse("admin:testapp_ticket_changelist")
ACT = reverse("admin:prodpatterns_tenantaccess_act")
LEAVE = reverse("admin:prodpatterns_tenantaccess_leave")
ACCESS_LIST = reverse("admin:prodpatterns_tenantaccess_changelist")


@pytest.fixture
def tickets(tenant_pair, member_tenant, cross_tenant_alias):
    """One ticket in each of tenants A and B (written as the application role)."""
    for tenant, subject in zip(tenant_pair, ("ticket of A", "ticket of B"), strict=True):
        with tenant_context(tenant):
            Ticket.objects.using(APP).create(subject=subject)
    yield tenant_pair
    for tenant in tenant_pair:
        with tenant_context(tenant):
            Ticket.objects.using(APP).all().delete()


def ticket_permissions(*actions):
    return Permission.objects.filter(
        content_type__app_label="testapp", codename__in=[f"{a}_ticket" for a in actions]
    )


def staff(name, *, may_act=False, superuser=False, is_staff=True):
    """A user who may view tickets in the admin, and act for a tenant when ``may_act``."""
    user = User.objects.create_user(name, is_staff=is_staff, is_superuser=superuser)
    user.user_permissions.add(*ticket_permissions("view"))
    if may_act:
        user.user_permissions.add(Permission.objects.get(codename="act_for_tenant"))
    return user


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def act(client, tenant, reason="support ticket 42", **extra):
    return client.post(ACT, {"tenant": str(tenant.pk), "reason": reason, **extra})


def acting_entries():
    return AuditLog.objects.filter(model="prodpatterns.TenantAccess").order_by("id")


# --- what staff without a tenant see --------------------------------------------------------


def test_a_superuser_without_a_tenant_is_told_why_and_where_to_go(tickets):
    page = client_for(staff("root", superuser=True)).get(TICKETS)
    assert page.status_code == 403
    text = page.content.decode()
    assert "You have no tenant" in text
    assert "row-level security" in text
    assert f'href="{ACT}?next={TICKETS}"' in text
    assert 'id="site-name"' in text  # an admin page, with the admin's header and menu


def test_a_staff_member_without_the_permission_is_told_whom_to_ask(tickets):
    text = client_for(staff("clerk")).get(TICKETS).content.decode()
    assert "You have no tenant" in text
    assert "prodpatterns.act_for_tenant" in text
    assert f'href="{ACT}' not in text


def test_without_the_cross_tenant_alias_the_page_explains_how_to_configure_it(tickets, settings):
    settings.PRODPATTERNS = {**settings.PRODPATTERNS, "ADMIN_DATABASE": None}
    client = client_for(staff("root", superuser=True))
    text = client.get(ACT).content.decode()
    assert "PRODPATTERNS[&quot;ADMIN_DATABASE&quot;]" in text or 'ADMIN_DATABASE"]' in text
    assert "BYPASSRLS" in text
    assert "prodpatterns setup" in text
    a, _ = tickets
    assert act(client, a).status_code == 403
    assert not TenantAccess.objects.exists()


# --- acting for a tenant --------------------------------------------------------------------


def test_staff_with_the_permission_act_for_a_tenant_and_leave_in_one_click(tickets):
    a, b = tickets
    user = staff("support", may_act=True)
    client = client_for(user)
    chooser = client.get(ACT)
    assert chooser.status_code == 200
    assert a.name in chooser.content.decode() and b.name in chooser.content.decode()

    response = act(client, a, next=TICKETS)
    assert response.status_code == 302 and response.url == TICKETS
    access = TenantAccess.objects.get()
    assert (access.user_key, access.tenant_key, access.ended_at) == (str(user.pk), str(a.pk), None)
    assert client.session[SESSION_KEY] == str(access.pk)

    listing = client.get(TICKETS)
    assert listing.status_code == 200
    assert [t.subject for t in listing.context["cl"].result_list] == ["ticket of A"]
    page = listing.content.decode()
    assert f"You are acting for the tenant “{a.name}”" in page  # the banner
    assert f'action="{LEAVE}"' in page  # leaving is one button
    assert client.get(reverse("admin:index")).content.decode().count(f"“{a.name}”") == 1

    left = client.post(LEAVE, {"next": TICKETS})
    assert left.status_code == 302
    access.refresh_from_db()
    assert access.ended_at is not None
    assert SESSION_KEY not in client.session
    assert client.get(TICKETS).status_code == 403


def test_every_switch_is_in_the_audit_log(tickets):
    a, b = tickets
    user = staff("support", may_act=True)
    client = client_for(user)
    act(client, a, reason="ticket 1")
    act(client, b, reason="ticket 2")  # a switch ends the first
    client.post(LEAVE)
    first, second = TenantAccess.objects.order_by("id")
    entries = [(e.action, e.object_pk, e.tenant_id, e.actor_id, e.reason) for e in acting_entries()]
    actor = str(user.pk)
    assert entries == [
        ("create", str(first.pk), str(a.pk), actor, "ticket 1"),
        ("update", str(first.pk), str(a.pk), actor, "stopped acting: switched to another tenant"),
        ("create", str(second.pk), str(b.pk), actor, "ticket 2"),
        ("update", str(second.pk), str(b.pk), actor, "stopped acting: left"),
    ]
    create = acting_entries().first()
    assert create.snapshot["tenant_key"] == str(a.pk)
    assert create.snapshot["user_repr"] == "support"
    assert create.request_id and create.path == ACT


def test_what_staff_change_while_acting_is_audited_under_their_name_and_the_tenant(tickets):
    a, _ = tickets
    user = staff("support", may_act=True)
    user.user_permissions.add(*ticket_permissions("change"))
    client = client_for(user)
    act(client, a)
    with tenant_context(a):
        ticket = Ticket.objects.using(APP).get()
    url = reverse("admin:testapp_ticket_change", args=[ticket.pk])
    assert client.post(url, {"subject": "edited"}).status_code == 302
    entry = AuditLog.objects.filter(model="testapp.Ticket", action="update").get()
    assert (entry.actor_id, entry.tenant_id) == (str(user.pk), str(a.pk))


def test_the_reason_is_required_and_the_tenant_must_exist(tickets):
    a, _ = tickets
    client = client_for(staff("support", may_act=True))
    assert "This field is required" in act(client, a, reason="").content.decode()
    unknown = client.post(ACT, {"tenant": "0", "reason": "x"})
    assert unknown.status_code == 200
    assert "Choose a tenant" in unknown.content.decode()
    assert not TenantAccess.objects.exists()
    assert SESSION_KEY not in client.session


def test_next_must_stay_on_this_site(tickets):
    a, _ = tickets
    client = client_for(staff("support", may_act=True))
    response = act(client, a, next="https://evil.example/")
    assert response.url == reverse("admin:index")


def test_the_session_key_changes_when_acting_starts(tickets):
    a, _ = tickets
    client = client_for(staff("support", may_act=True))
    before = client.session.session_key
    act(client, a)
    assert client.session.session_key != before


# --- who may not ----------------------------------------------------------------------------


def test_staff_without_the_permission_cannot_act(tickets):
    a, _ = tickets
    client = client_for(staff("clerk"))
    assert client.get(ACT).status_code == 200  # the explanation, no form
    assert act(client, a).status_code == 403
    assert not TenantAccess.objects.exists()
    assert client.get(TICKETS).status_code == 403


def test_a_user_who_is_not_staff_cannot_act(tickets):
    a, _ = tickets
    client = client_for(staff("customer", may_act=True, is_staff=False))
    response = act(client, a)
    assert response.status_code == 302 and "/login/" in response.url
    assert not TenantAccess.objects.exists()


def test_a_forged_session_value_is_refused(tickets):
    """The session names a TenantAccess row; the row must be the user's, open, and the
    user must still hold the permission. Anything else is no tenant, and is dropped."""
    _, b = tickets
    other = staff("other", may_act=True)
    act(client_for(other), b)
    others_access = TenantAccess.objects.get()
    user = staff("support", may_act=True)
    for forged in (str(others_access.pk), str(b.pk), "0", "not-a-key", ""):
        client = client_for(user)
        session = client.session
        session[SESSION_KEY] = forged
        session.save()
        assert client.get(TICKETS).status_code == 403, forged
        assert SESSION_KEY not in client.session, forged


def test_an_ended_access_or_a_withdrawn_permission_ends_acting(tickets):
    a, _ = tickets
    user = staff("support", may_act=True)
    client = client_for(user)
    act(client, a)
    assert client.get(TICKETS).status_code == 200
    user.user_permissions.remove(Permission.objects.get(codename="act_for_tenant"))
    assert client.get(TICKETS).status_code == 403
    assert SESSION_KEY not in client.session

    user.user_permissions.add(Permission.objects.get(codename="act_for_tenant"))
    act(client, a)
    TenantAccess.objects.update(ended_at="2000-01-01T00:00:00Z")
    assert client.get(TICKETS).status_code == 403


def test_a_staff_member_who_loses_staff_status_stops_acting(tickets):
    a, _ = tickets
    user = staff("support", may_act=True)
    client = client_for(user)
    act(client, a)
    User.objects.filter(pk=user.pk).update(is_staff=False)
    assert client.get("/projects/").status_code != 200  # no tenant outside the admin either


def test_logging_out_ends_acting_and_says_so_in_the_log(tickets):
    a, _ = tickets
    client = client_for(staff("support", may_act=True))
    act(client, a)
    client.post(reverse("admin:logout"))
    assert TenantAccess.objects.get().ended_at is not None
    assert acting_entries().last().reason == "stopped acting: logged out"


def test_acting_overrides_the_users_own_tenant_until_they_leave(tickets):
    a, b = tickets
    user = staff("member-of-a", may_act=True)
    Member.objects.create(user=user, tenant_id=a.pk)
    client = client_for(user)
    assert client.get("/projects/").json()["tenant"] == a.pk
    act(client, b)
    assert client.get("/projects/").json()["tenant"] == b.pk
    client.post(LEAVE)
    assert client.get("/projects/").json()["tenant"] == a.pk


# --- the records and the tenants in the admin -----------------------------------------------


def test_the_access_records_are_read_only_in_the_admin(tickets):
    a, _ = tickets
    root = staff("root", superuser=True)
    client = client_for(root)
    act(client, a)
    listing = client.get(ACCESS_LIST)
    assert listing.status_code == 200
    assert "root" in listing.content.decode()
    access = TenantAccess.objects.get()
    change = reverse("admin:prodpatterns_tenantaccess_change", args=[access.pk])
    client.post(change, {"reason": "rewritten"})
    access.refresh_from_db()
    assert access.reason == "support ticket 42"
    assert client.post(reverse("admin:prodpatterns_tenantaccess_add")).status_code == 403


def test_the_default_tenant_model_has_an_admin(tickets):
    a, _ = tickets
    client = client_for(staff("root", superuser=True))
    listing = client.get(reverse("admin:prodpatterns_tenant_changelist"), {"q": a.slug})
    assert listing.status_code == 200
    assert [t.pk for t in listing.context["cl"].result_list] == [a.pk]
    assert f"{ACT}?tenant={a.pk}" in listing.content.decode()  # "act for" from the list
    created = client.post(
        reverse("admin:prodpatterns_tenant_add"), {"name": "Acme", "slug": "acme"}
    )
    assert created.status_code == 302
    assert Tenant.objects.filter(slug="acme").exists()
    Tenant.objects.filter(slug="acme").delete()


def test_the_tenant_admin_is_registered_only_for_the_default_tenant_model():
    from django.contrib.admin import AdminSite

    from django_prodpatterns.admin.tenancy import register_tenant_admin

    register_tenant_admin(site := AdminSite(name="default_tenant_model"))
    assert site.is_registered(Tenant)
    with override_settings(PRODPATTERNS_TENANT_MODEL="testapp.Member"):
        register_tenant_admin(site := AdminSite(name="swapped_tenant_model"))
        assert not site.is_registered(Tenant)


def test_an_empty_list_of_a_tenant_model_says_why(rf):
    """An admin whose queryset is not tenant-scoped shows an empty list, not a 403: the
    notice says why (row level security hid every row)."""
    from types import SimpleNamespace

    from django.contrib.messages import get_messages
    from django.contrib.messages.storage import default_storage
    from django.template.response import TemplateResponse
    from django.urls import resolve

    from django_prodpatterns.admin.tenancy import add_admin_notices

    request = rf.get(TICKETS)
    request.user = staff("root", superuser=True)
    request.resolver_match = resolve(TICKETS)
    request.tenant, request.tenant_access = None, None
    request.session = {}
    request._messages = default_storage(request)
    empty_list = TemplateResponse(request, "x.html", {"cl": SimpleNamespace(model=Ticket)})
    add_admin_notices(request, empty_list)
    (notice,) = [m.message for m in get_messages(request)]
    assert "You have no tenant, so the rows of tenant models are hidden" in notice
    assert f'href="{ACT}"' in notice
    request._messages = default_storage(request)
    other_list = TemplateResponse(request, "x.html", {"cl": SimpleNamespace(model=AuditLog)})
    add_admin_notices(request, other_list)
    assert list(get_messages(request)) == []
