"""The patterns working together on a tenant tree: Invoice -> InvoiceLine, both
``TenantBaseModel`` and ``VersionedModel`` (in opposite orders), as the application role."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, transaction

from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.exceptions import ConflictError
from django_prodpatterns.models import AuditLog
from tests.composed.models import Invoice, InvoiceLine
from tests.helpers import APP, CROSS

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP, CROSS])


def invoice_with_lines(number, lines=2):
    invoice = Invoice.objects.using(APP).create(number=number)
    for amount in range(lines):
        InvoiceLine.objects.using(APP).create(invoice=invoice, amount=amount)
    return invoice


def state(using=CROSS):
    """Every row of both tables, all tenants: (model, number/amount, tenant, deleted?)."""
    rows = [
        ("invoice", i.number, i.tenant_id, i.deleted_at is not None, i.version)
        for i in Invoice._base_manager.using(using).order_by("pk")
    ] + [
        ("line", line.invoice.number, line.tenant_id, line.deleted_at is not None, line.version)
        for line in InvoiceLine._base_manager.using(using).select_related("invoice").order_by("pk")
    ]
    return rows


def entries(action):
    return list(
        AuditLog.objects.using(APP).filter(action=action, model__startswith="composed.Invoice")
    )


def test_a_soft_delete_is_audited_with_actor_and_tenant_and_moves_versions(
    invoice_tenants, django_user_model
):
    a, _ = invoice_tenants
    clerk = django_user_model.objects.create_user("clerk")
    with tenant_context(a):
        invoice = invoice_with_lines("A-1")
        before = {
            line.pk: line.updated_at for line in InvoiceLine.objects.using(APP).order_by("pk")
        }
        with audit_context(actor=clerk, reason="customer cancelled"):
            total, counts = invoice.delete(using=APP)
        assert (total, counts) == (3, {"composed.Invoice": 1, "composed.InvoiceLine": 2})
        assert invoice.version == 2
        lines = list(InvoiceLine.all_objects.using(APP).order_by("pk"))
        assert [line.version for line in lines] == [2, 2]
        assert all(line.updated_at == invoice.deleted_at > before[line.pk] for line in lines)
        logged = entries("soft_delete")
        assert sorted(e.model for e in logged) == [
            "composed.Invoice",
            "composed.InvoiceLine",
            "composed.InvoiceLine",
        ]
        assert {(e.actor_id, e.tenant_id, e.reason) for e in logged} == {
            (str(clerk.pk), str(a.pk), "customer cancelled")
        }
        assert {tuple(e.changes["version"]) for e in logged} == {(1, 2)}


def test_a_cascade_never_crosses_tenants(invoice_tenants):
    a, b = invoice_tenants
    for tenant in invoice_tenants:
        with tenant_context(tenant):
            invoice_with_lines(f"{tenant.pk}-1")
    before = state()
    with tenant_context(a):
        assert Invoice.objects.using(APP).all().delete()[0] == 3
        # A line of tenant B cannot hang on tenant A's invoice, so no cascade can reach B.
        invoice = Invoice.all_objects.using(APP).get()
    with tenant_context(b), pytest.raises(DatabaseError), transaction.atomic(using=APP):
        InvoiceLine.objects.using(APP).create(invoice_id=invoice.pk)
    after = state()
    assert [row for row in after if row[2] == b.pk] == [row for row in before if row[2] == b.pk]
    assert all(row[3] for row in after if row[2] == a.pk)


def test_a_restore_is_audited_and_version_checked(invoice_tenants, django_user_model):
    a, _ = invoice_tenants
    with tenant_context(a):
        invoice = invoice_with_lines("A-1")
        stale = Invoice.objects.using(APP).get(pk=invoice.pk)
        invoice.delete(using=APP)
        with pytest.raises(ConflictError) as excinfo:
            stale.restore(using=APP)
        assert (excinfo.value.expected, excinfo.value.current) == (1, 2)
        assert Invoice.deleted_objects.using(APP).count() == 1
        with audit_context(actor=django_user_model.objects.create_user("undo")):
            total, _ = invoice.restore(using=APP)
        assert total == 3 and invoice.version == 3
        assert {line.version for line in InvoiceLine.objects.using(APP)} == {3}
        restored = entries("restore")
        assert len(restored) == 3
        assert {e.tenant_id for e in restored} == {str(a.pk)}
        assert all(e.actor_repr == "undo" for e in restored)


def test_a_revert_from_the_audit_log_goes_through_the_version_check(invoice_tenants):
    a, _ = invoice_tenants
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="A-1", note="first")
        created = AuditLog.objects.using(APP).get(action="create")
        invoice.note = "second"
        invoice.save(using=APP)
        seen = invoice.version  # what the person choosing the revert looked at
        invoice.note = "third"
        invoice.save(using=APP)
        with pytest.raises(ConflictError):
            created.revert(using=APP, expected_version=seen)
        assert Invoice.objects.using(APP).get().note == "third"
        reverted = created.revert(using=APP, expected_version=invoice.version)
        assert reverted.note == "first"
        assert reverted.version == invoice.version + 1 == 4  # forward, never the snapshot's 1
        assert reverted.updated_at > invoice.updated_at


def test_restore_deleted_with_a_tenant_restores_only_that_tenants_rows(invoice_tenants):
    a, b = invoice_tenants
    for tenant in invoice_tenants:
        with tenant_context(tenant):
            invoice_with_lines(f"{tenant.pk}-1").delete(using=APP)
    out = StringIO()
    call_command(
        "restore_deleted",
        "composed.Invoice",
        "--all",
        "--tenant",
        str(a.pk),
        "--database",
        CROSS,  # BYPASSRLS: the SQL itself must say which tenant
        stdout=out,
    )
    assert "Restored 3 rows" in out.getvalue()
    rows = state()
    assert not any(row[3] for row in rows if row[2] == a.pk)
    assert all(row[3] for row in rows if row[2] == b.pk)
