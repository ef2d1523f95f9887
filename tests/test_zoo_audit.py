"""Audit capture on the zoo's shapes: the right label, key, tenant and columns for every
key type and table name, proxies that find their history, and generated columns."""

import uuid

import pytest

from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.markers import is_versioned
from django_prodpatterns.models import AuditLog, get_tenant_model
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db


def u() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def tenant():
    t = get_tenant_model().objects.create(name="zoo", slug=f"zoo-{u()}")
    with tenant_context(t):
        yield t


def make_shelf():
    return zoo.Shelf.objects.create(aisle=zoo.Aisle.objects.create(code=u()), label=u())


# model, make() -> saved row, field to change, (column that must appear in the snapshot)
SHAPES = {
    "lazy FK": (make_shelf, "label", "aisle_id"),
    "O2O primary key": (
        lambda: zoo.ShelfLabel.objects.create(shelf=make_shelf(), text="t"),
        "text",
        "shelf_id",
    ),
    "UUID key": (lambda: zoo.UuidItem.objects.create(name="n"), "name", "id"),
    "natural key": (lambda: zoo.Sku.objects.create(code=f"SKU-{u()}", name="n"), "name", "code"),
    "small auto key": (lambda: zoo.SmallItem.objects.create(name="n"), "name", "id"),
    "mixed case": (lambda: zoo.MixedCase.objects.create(title="t"), "title", "TitleText"),
    "reserved words": (lambda: zoo.Select.objects.create(group="g", user="x"), "group", "from"),
    "generated and db_default": (lambda: zoo.Gadget.objects.create(a=1, b=2), "a", "total"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_create_and_update_are_logged_with_label_key_tenant_and_columns(tenant, shape):
    make, field, column = SHAPES[shape]
    with audit_context(reason=f"zoo {shape}"):
        row = make()
        row.refresh_from_db()
        setattr(row, field, 5 if field == "a" else "changed")
        row.save()
    model = type(row)
    entries = list(AuditLog.objects.filter(model=model._meta.label, object_pk=str(row.pk)))
    assert [e.action for e in sorted(entries, key=lambda e: e.pk)] == ["create", "update"]
    create, update = sorted(entries, key=lambda e: e.pk)
    assert create.tenant_id == str(tenant.pk)
    assert create.reason == f"zoo {shape}"
    assert column in create.snapshot
    expected = {model._meta.get_field(field).column}
    expected |= {"version"} if is_versioned(model) else set()  # a versioned save bumps it
    expected |= {"total"} if model is zoo.Gadget else set()  # generated from a + b
    assert set(update.changes) == expected
    assert row.audit_history().first() == update


def test_the_tenant_column_is_read_under_its_own_name(tenant):
    """MixedCase keeps its tenant in the column "OrgId": entries still carry the tenant."""
    row = zoo.MixedCase.objects.create(title="t")
    entry = AuditLog.objects.get(model="menagerie.MixedCase", object_pk=str(row.pk))
    assert entry.tenant_id == str(tenant.pk)
    assert entry.snapshot["OrgId"] == tenant.pk


def test_a_generated_column_is_logged_and_a_revert_leaves_it_to_the_database(tenant):
    gadget = zoo.Gadget.objects.create(a=1, b=2, data={"x": 1})
    gadget.refresh_from_db()
    assert (gadget.total, gadget.status) == (3, "new")
    created = gadget.audit_history().get()
    assert created.snapshot["total"] == 3
    assert created.snapshot["status"] == "new"
    gadget.a = 10
    gadget.save()
    gadget = created.revert()
    assert (gadget.a, gadget.total) == (1, 3)


@pytest.mark.parametrize(
    ("proxy", "make"),
    [
        (zoo.EntryProxy, lambda: zoo.EntryProxy.objects.create(text="t")),
        (zoo.ThingProxy, lambda: zoo.ThingProxy.objects.create(name="t")),
        (zoo.ShelfProxy, lambda: zoo.ShelfProxy.objects.create(aisle_id=make_shelf().aisle_id)),
    ],
    ids=["AuditedModel", "BaseModel", "TenantBaseModel"],
)
def test_a_proxy_instance_finds_its_history(tenant, proxy, make):
    row = make()
    history = row.audit_history()
    assert [e.action for e in history] == ["create"]
    assert history.get().model == proxy._meta.concrete_model._meta.label
    assert list(AuditLog.objects.for_object(row)) == list(history)


def test_the_admin_history_of_a_proxy_opens_the_tables_entries(tenant):
    from django_prodpatterns.admin.audit import history_url

    entry = zoo.EntryProxy.objects.create(text="t")
    assert "model=menagerie.Entry&" in history_url(zoo.EntryProxy, entry.pk)


def test_an_unmanaged_model_has_no_triggers():
    assert not [c for c in zoo.Ledger._meta.constraints]


def test_the_log_filters_by_the_concrete_label_only(tenant):
    """The log's model filter lists the concrete label once, never the proxy's."""
    from django_prodpatterns.admin.audit import ModelFilter

    labels = [label for label, _ in ModelFilter.lookups(None, None, None)]
    assert "menagerie.Entry" in labels
    assert "menagerie.EntryProxy" not in labels
    assert len(labels) == len(set(labels))
