"""Bulk writes (copy_insert, upsert) on the zoo's key, table and column shapes, with the
tenant, timestamps and audit entries they must still get."""

import uuid

import pytest

from django_prodpatterns.bulk import copy_insert, upsert
from django_prodpatterns.context import tenant_context
from django_prodpatterns.exceptions import BulkWriteError
from django_prodpatterns.models import AuditLog, get_tenant_model
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    t = get_tenant_model().objects.create(name="zoo", slug=f"zoo-{uuid.uuid4().hex[:8]}")
    with tenant_context(t):
        yield t


ROWS = {
    "mixed case": (zoo.MixedCase, [{"title": f"t{i}"} for i in range(3)]),
    "reserved words": (zoo.Select, [{"group": f"g{i}", "order": i} for i in range(3)]),
    "natural key": (zoo.Sku, [{"code": f"S{i}", "name": "n"} for i in range(3)]),
    "UUID key": (zoo.UuidItem, [{"name": f"n{i}"} for i in range(3)]),
    "small auto key": (zoo.SmallItem, [{"name": f"n{i}"} for i in range(3)]),
    "generated, db_default, JSON": (
        zoo.Gadget,
        [{"a": i, "b": 1, "data": {"i": i}} for i in range(3)],
    ),
}


@pytest.mark.parametrize("shape", ROWS)
def test_copy_insert_writes_every_shape_in_the_current_tenant_with_audit(tenant, shape):
    model, rows = ROWS[shape]
    assert copy_insert(model, rows) == 3
    assert model.objects.count() == 3
    assert set(model.objects.values_list("tenant_id", flat=True)) == {tenant.pk}
    entries = AuditLog.objects.filter(model=model._meta.label, action="create")
    assert entries.count() == 3
    assert {e.tenant_id for e in entries} == {str(tenant.pk)}


def test_a_database_default_no_row_gives_is_left_to_the_database(tenant):
    copy_insert(zoo.Gadget, [{"a": 1}, {"a": 2, "b": 5}])
    assert sorted(zoo.Gadget.objects.values_list("status", "total")) == [("new", 1), ("new", 7)]


def test_a_constant_database_default_fills_the_rows_that_leave_it_out(tenant):
    copy_insert(zoo.Gadget, [{"a": 1, "status": "old"}, {"a": 2}])
    assert sorted(zoo.Gadget.objects.values_list("a", "status")) == [(1, "old"), (2, "new")]


def test_model_instances_without_their_database_default_insert(tenant):
    copy_insert(zoo.Gadget, [zoo.Gadget(a=3)])
    assert zoo.Gadget.objects.get().status == "new"


def test_a_generated_column_cannot_be_given(tenant):
    with pytest.raises(BulkWriteError, match="total"):
        copy_insert(zoo.Gadget, [{"a": 1, "total": 9}])
    assert not zoo.Gadget.objects.exists()


def test_upsert_by_a_natural_key_updates_in_place(tenant):
    copy_insert(zoo.Sku, [{"code": "A", "name": "old"}])
    result = upsert(
        zoo.Sku,
        [{"code": "A", "name": "new"}, {"code": "B", "name": "b"}],
        unique_fields=["code"],
        update_fields=["name"],
    )
    assert (result.inserted, result.updated) == (1, 1)
    assert dict(zoo.Sku.objects.values_list("code", "name")) == {"A": "new", "B": "b"}
