"""VersionedAdmin through the test client: two editors of one invoice, in the change form,
its inline rows and the changelist's list_editable, as a tenant's staff user."""

import pytest
from django import forms
from django.contrib.auth.models import Permission, User
from django.db import models, transaction
from django.urls import reverse

from django_prodpatterns.admin.locking import FIELD, versioned_form
from django_prodpatterns.context import tenant_context
from tests.composed.models import Invoice, InvoiceLine
from tests.helpers import APP
from tests.testapp.models import Counter, Member

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])
CHANGELIST = reverse("admin:composed_invoice_changelist")


@pytest.fixture
def invoice(tenant_pair):
    a, _ = tenant_pair
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="A-1", note="original")
        InvoiceLine.objects.using(APP).create(invoice=invoice, amount=10)
    yield invoice
    with tenant_context(a):
        models.QuerySet.delete(InvoiceLine._base_manager.using(APP).all())
        models.QuerySet.delete(Invoice._base_manager.using(APP).all())
    Member.objects.all().delete()


def editor(client_class, name, tenant):
    user = User.objects.create_user(name, is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="composed"))
    Member.objects.create(user=user, tenant_id=tenant.pk)
    client = client_class()
    client.force_login(user)
    return client


@pytest.fixture
def alice_and_bob(client_class, tenant_pair, member_tenant):
    """Two staff users of tenant A, members through ``Member`` (TENANT_USER_ATTRIBUTE)."""
    a, _ = tenant_pair
    return editor(client_class, "alice", a), editor(client_class, "bob", a)


@pytest.fixture
def client_class():
    from django.test import Client

    return Client


def form_data(response, **changes):
    """What the browser would post back: every field of the page's forms, then ``changes``."""
    forms = [response.context["adminform"].form]
    for inline in response.context["inline_admin_formsets"]:
        forms += [inline.formset.management_form, *inline.formset.forms]
    data = {}
    for form in forms:
        for bound in form:
            value = bound.value()
            if value not in (None, False):
                data[bound.html_name] = value
    data.update(changes)
    return data


def stored(invoice):
    with tenant_context(invoice.tenant_id):
        row = Invoice._base_manager.get(pk=invoice.pk)
    return row.note, row.version


def test_the_second_save_shows_who_changed_what_and_overwrites_nothing(invoice, alice_and_bob):
    alice, bob = alice_and_bob
    url = reverse("admin:composed_invoice_change", args=[invoice.pk])
    alice_page, bob_page = alice.get(url), bob.get(url)
    assert b'name="prodpatterns_version" value="1"' in bob_page.content
    assert alice.post(url, form_data(alice_page, note="alice was here")).status_code == 302
    response = bob.post(url, form_data(bob_page, note="bob was here"))
    assert response.status_code == 200
    errors = " ".join(response.context["adminform"].form.non_field_errors())
    assert "alice saved this invoice" in errors
    assert "note (now “alice was here”)" in errors
    assert "version 2, yours was 1" in errors
    assert stored(invoice) == ("alice was here", 2)
    # The form came back with bob's values and the version he has now seen: saving again
    # is his deliberate choice.
    assert b'name="prodpatterns_version" value="2"' in response.content
    assert b'value="bob was here"' in response.content
    again = form_data(response)
    assert bob.post(url, again).status_code == 302
    assert stored(invoice) == ("bob was here", 3)


def test_a_stale_inline_row_is_refused(invoice, alice_and_bob):
    alice, bob = alice_and_bob
    url = reverse("admin:composed_invoice_change", args=[invoice.pk])
    alice_page, bob_page = alice.get(url), bob.get(url)
    assert b'name="lines-0-prodpatterns_version" value="1"' in bob_page.content
    assert alice.post(url, form_data(alice_page, **{"lines-0-amount": 20})).status_code == 302
    response = bob.post(url, form_data(bob_page, **{"lines-0-amount": 30}))
    assert response.status_code == 200
    inline_errors = str(response.context["inline_admin_formsets"][0].formset.errors)
    assert "alice saved this invoice line" in inline_errors and "amount (now “20”)" in inline_errors
    with tenant_context(invoice.tenant_id):
        line = InvoiceLine._base_manager.get()
    assert (line.amount, line.version) == (20, 2)
    assert stored(invoice) == ("original", 1)  # the parent form was not saved either


def test_list_editable_checks_each_rows_version(invoice, alice_and_bob):
    alice, bob = alice_and_bob
    bob_page = bob.get(CHANGELIST)
    assert b'name="form-0-prodpatterns_version" value="1"' in bob_page.content
    url = reverse("admin:composed_invoice_change", args=[invoice.pk])
    assert alice.post(url, form_data(alice.get(url), note="alice")).status_code == 302
    formset = bob_page.context["cl"].formset
    data = {"_save": "Save", "form-0-note": "bob"}
    for form in [formset.management_form, *formset.forms]:
        for bound in form:
            data.setdefault(bound.html_name, bound.value())
    response = bob.post(CHANGELIST, data)
    assert response.status_code == 200
    errors = str(response.context["cl"].formset.errors)
    assert "alice saved this invoice" in errors
    assert stored(invoice) == ("alice", 2)


def test_a_revert_from_the_audit_log_checks_the_version_the_preview_showed(admin_client):
    from django_prodpatterns.models import AuditLog
    from tests.composed.models import BaseVersionedRow

    row = BaseVersionedRow.objects.create(name="one")
    created = AuditLog.objects.get(model="composed.BaseVersionedRow", action="create")
    row.name = "two"
    row.save()
    url = reverse("admin:prodpatterns_auditlog_revert", args=[created.pk])
    preview = admin_client.get(url)
    assert b'name="version" value="2"' in preview.content
    assert b"<td>version</td>" not in preview.content  # bookkeeping is not reverted
    row.name = "three"
    row.save()  # someone else, while the preview was open
    for stale in ({"version": "2"}, {}, {"version": "x"}):
        response = admin_client.post(url, stale)
        assert (response.status_code, response.url) == (302, url)
        assert BaseVersionedRow.objects.get().name == "three"
    fresh = admin_client.get(url)
    assert "changed after you opened this page" in fresh.content.decode()
    assert b'name="version" value="3"' in fresh.content
    assert admin_client.post(url, {"version": "3"}).status_code == 302
    reverted = BaseVersionedRow.objects.get()
    assert (reverted.name, reverted.version) == ("one", 4)


# --- a project's own ModelForm (Counter: versioned, not audited) -------------------------


class CounterForm(forms.ModelForm):
    class Meta:
        model = Counter
        fields = ["name", "value"]


class QuietCleanForm(CounterForm):
    def clean(self):
        super().clean()  # returns None, as Django allows: it keeps cleaned_data then


class ExtraFieldForm(CounterForm):
    notify = forms.BooleanField(required=False)  # the form's own, not a model field


def edit_after_someone_else(form_class, **data):
    """A form of ``form_class`` (made versioned) for a counter at version 1, bound to this
    editor's values, after another editor saved the counter (now version 2)."""
    counter = Counter.objects.create(value=1)
    mine, theirs = Counter.objects.get(pk=counter.pk), Counter.objects.get(pk=counter.pk)
    theirs.value = 2
    theirs.save()
    values = {"name": "c", "value": "3", FIELD: "1", **data}
    return versioned_form(form_class)(values, instance=mine)


@pytest.mark.django_db
def test_a_stale_save_is_refused_when_the_forms_own_clean_returns_nothing():
    with transaction.atomic():  # the check locks the row
        stale = edit_after_someone_else(QuietCleanForm)
        assert not stale.is_valid()  # was: AttributeError on the None clean() returned
        current = versioned_form(QuietCleanForm)(
            {"name": "c", "value": "3", FIELD: "2"}, instance=Counter.objects.get()
        )
        assert current.is_valid(), current.errors
    errors = " ".join(stale.non_field_errors())
    assert "version 2, yours was 1" in errors and "value (now “2”)" in errors
    assert stale.data[FIELD] == "2"  # shown again with the version the editor has now seen


@pytest.mark.django_db
def test_a_conflict_names_the_changed_columns_and_skips_the_forms_own_fields():
    with transaction.atomic():
        stale = edit_after_someone_else(ExtraFieldForm, notify="on")
        assert not stale.is_valid()  # was: FieldDoesNotExist for "notify"
    errors = " ".join(stale.non_field_errors())
    assert "Changed: value (now “2”)." in errors and "notify" not in errors
