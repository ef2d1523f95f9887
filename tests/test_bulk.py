"""copy_insert() and upsert() as the application role: rows land in the current tenant
only, every row is audited, and a bad row is named and nothing is written."""

from decimal import Decimal

import pytest

from django_prodpatterns.bulk import copy_insert, upsert
from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.exceptions import BulkWriteError, TenantMismatch, TenantRequired
from django_prodpatterns.models import AuditLog
from tests.composed.models import Invoice, InvoiceLine
from tests.helpers import APP, CROSS
from tests.testapp.models import Entry

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP, CROSS])


def everything():
    """Every invoice of every tenant (the BYPASSRLS alias): (tenant, number, total)."""
    return sorted(
        (i.tenant_id, i.number, i.total) for i in Invoice._base_manager.using(CROSS).all()
    )


def rows(n, start=0):
    return [{"number": f"INV-{i}", "total": f"{i}.50"} for i in range(start, start + n)]


def test_copy_insert_lands_in_the_current_tenant_with_timestamps_and_audit(
    invoice_tenants, django_user_model
):
    a, b = invoice_tenants
    clerk = django_user_model.objects.create_user("importer")
    with tenant_context(a), audit_context(actor=clerk, reason="import"):
        assert copy_insert(Invoice, rows(500), using=APP) == 500
        stored = list(Invoice.objects.using(APP).order_by("pk"))
        entries = AuditLog.objects.using(APP).filter(model="composed.Invoice", action="create")
        assert entries.count() == 500
        assert {(e.actor_id, e.tenant_id, e.reason) for e in entries} == {
            (str(clerk.pk), str(a.pk), "import")
        }
    assert [i.number for i in stored] == [f"INV-{i}" for i in range(500)]  # input order
    assert {(i.tenant_id, i.version, i.deleted_at) for i in stored} == {(a.pk, 1, None)}
    assert all(i.created_at == i.updated_at is not None for i in stored)
    assert stored[7].total == Decimal("7.50")
    with tenant_context(b):
        assert Invoice.objects.using(APP).count() == 0
    assert {t for t, _, _ in everything()} == {a.pk}


def test_instances_and_foreign_keys_are_accepted(invoice_tenants):
    a, _ = invoice_tenants
    with tenant_context(a):
        invoice = Invoice.objects.using(APP).create(number="I-1")
        lines = [InvoiceLine(invoice=invoice, amount=n) for n in range(3)]
        assert copy_insert(InvoiceLine, lines, using=APP) == 3
        assert copy_insert(InvoiceLine, [{"invoice": invoice, "amount": 9}], using=APP) == 1
        assert sorted(invoice.lines.values_list("amount", flat=True)) == [0, 1, 2, 9]


BAD_ROWS = [
    ({"number": "X", "tenant_id": "other"}, TenantMismatch, "Row 2: composed.Invoice of tenant"),
    ({"total": "1.00"}, BulkWriteError, "Row 2: number is required"),
    ({"number": "X", "total": "lots"}, BulkWriteError, "Row 2: total:"),
    ({"number": "X", "colour": "red"}, BulkWriteError, "Row 2: composed.Invoice has no field"),
    ({"number": "X" * 30}, BulkWriteError, "value too long"),  # the database says so
    ({"number": "INV-0"}, BulkWriteError, "composed_invoice_number_alive_uniq"),
]


@pytest.mark.parametrize("bad, error, message", BAD_ROWS, ids=lambda v: str(v)[:30])
def test_a_bad_row_is_named_and_nothing_is_written(invoice_tenants, bad, error, message):
    a, b = invoice_tenants
    if bad.get("tenant_id") == "other":
        bad = {**bad, "tenant_id": b.pk}
    with tenant_context(a):
        copy_insert(Invoice, rows(1), using=APP)
        before = everything()
        with pytest.raises(error, match=message):
            copy_insert(Invoice, [*rows(2, start=10), bad, *rows(2, start=20)], using=APP)
        assert AuditLog.objects.using(APP).filter(model="composed.Invoice").count() == 1
    assert everything() == before


def test_without_a_tenant_nothing_is_written():
    with pytest.raises(TenantRequired):
        copy_insert(Invoice, rows(3), using=APP)
    assert everything() == []


def test_a_plain_model_needs_no_tenant():
    assert copy_insert(Entry, [{"rank": r, "title": "t"} for r in range(5)], using=APP) == 5
    assert sorted(Entry.objects.values_list("rank", flat=True)) == [0, 1, 2, 3, 4]


def test_upsert_counts_inserts_and_updates_and_keeps_every_pattern(invoice_tenants):
    a, b = invoice_tenants
    with tenant_context(b):
        copy_insert(Invoice, rows(3), using=APP)  # the same numbers in another tenant
    with tenant_context(a):
        copy_insert(Invoice, rows(3), using=APP)
        Invoice.objects.using(APP).get(number="INV-2").delete(using=APP)  # soft-deleted
        before = {i.number: i for i in Invoice.all_objects.using(APP)}
        changed = [
            {"number": "INV-0", "total": "100.00", "note": "ignored"},
            {"number": "INV-1", "total": "101.00"},
            {"number": "INV-2", "total": "102.00"},  # only a deleted row has it: insert
            {"number": "INV-9", "total": "109.00"},
        ]
        result = upsert(
            Invoice, changed, unique_fields=["number"], update_fields=["total"], using=APP
        )
        assert (result.inserted, result.updated) == (2, 2)
        after = {i.number: i for i in Invoice.objects.using(APP)}
        assert after["INV-0"].total == Decimal("100.00") and after["INV-0"].note == ""
        assert after["INV-0"].version == before["INV-0"].version + 1
        assert after["INV-0"].created_at == before["INV-0"].created_at
        assert after["INV-0"].updated_at > before["INV-0"].updated_at
        assert after["INV-2"].pk != before["INV-2"].pk and after["INV-9"].version == 1
        updates = AuditLog.objects.using(APP).filter(model="composed.Invoice", action="update")
        assert sorted(Decimal(str(e.changes["total"][1])) for e in updates) == [100, 101]
    with tenant_context(b):
        assert sorted(Invoice.objects.using(APP).values_list("total", flat=True)) == [
            Decimal("0.50"),
            Decimal("1.50"),
            Decimal("2.50"),
        ]


def test_upsert_refuses_duplicates_in_the_batch_and_unknown_keys(invoice_tenants):
    a, b = invoice_tenants
    with tenant_context(a):
        with pytest.raises(BulkWriteError, match="Rows 0 and 2 have the same tenant, number"):
            upsert(
                Invoice,
                [*rows(2), {"number": "INV-0"}],
                unique_fields=["number"],
                update_fields=["total"],
                using=APP,
            )
        with pytest.raises(ValueError, match="number identify the row"):
            upsert(Invoice, rows(1), unique_fields=["number"], update_fields=["number"], using=APP)
        with pytest.raises(ValueError, match="needs update_fields"):
            upsert(Invoice, rows(1), unique_fields=["number"], update_fields=[], using=APP)
        with pytest.raises(ValueError, match="no unique constraint"):
            upsert(Invoice, rows(1), unique_fields=["note"], update_fields=["total"], using=APP)
        with pytest.raises(TenantMismatch, match="Row 0"):
            upsert(
                Invoice,
                [{"number": "N", "tenant_id": b.pk}],
                unique_fields=["number"],
                update_fields=["total"],
                using=APP,
            )
    assert everything() == []
