"""Every tenant model of the zoo passes the leak-test kit as the application role.

The kit reads, updates, deletes, inserts and references across tenants through the ORM
and raw SQL; each shape below once crashed it or slipped past it (a mixed-case table,
a to_field key, a hidden relation, a generated column) or is a shape users write.
"""

import uuid

import pytest
from django.contrib.contenttypes.models import ContentType
from django.db import DatabaseError, connections, transaction

from django_prodpatterns.context import tenant_context
from django_prodpatterns.testing import assert_link_isolation, assert_tenant_isolation
from tests.helpers import APP
from tests.testapp.models import Project
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", APP])


def u() -> str:
    return uuid.uuid4().hex[:10]


def aisle():
    return zoo.Aisle.objects.using(APP).create(code=u(), label=u())


def shelf():
    return zoo.Shelf.objects.using(APP).create(aisle=aisle(), label=u())


def order():
    return zoo.Order.objects.using(APP).create(number=u())


def tag():
    return zoo.Tag.objects.using(APP).create(name=u())


# model, make(tenant) -> unsaved row, reference(row) -> unsaved row pointing at it
SHAPES = {
    "lazy FK to a later model, user abstract base": (
        zoo.Shelf,
        lambda t: zoo.Shelf(aisle=aisle(), label=u()),
        lambda s: zoo.Bin(shelf=s),
    ),
    "to_field target, plain Meta": (
        zoo.Aisle,
        lambda t: zoo.Aisle(code=u(), label=u()),
        lambda a: zoo.Crate(aisle=a),
    ),
    "hidden CASCADE child": (zoo.Bin, lambda t: zoo.Bin(shelf=shelf()), None),
    "hidden PROTECT child": (zoo.Guard, lambda t: zoo.Guard(shelf=shelf()), None),
    "to_field, db_constraint=False, other app": (
        zoo.Crate,
        lambda t: zoo.Crate(aisle=aisle()),
        None,
    ),
    "M2M through by string": (
        zoo.Order,
        lambda t: zoo.Order(number=u()),
        lambda o: zoo.OrderTag(order=o, tag=tag()),
    ),
    "soft-deletable through": (
        zoo.OrderTag,
        lambda t: zoo.OrderTag(order=order(), tag=tag()),
        None,
    ),
    "self tree": (zoo.Node, lambda t: zoo.Node(name=u()), lambda n: zoo.Node(parent=n, name=u())),
    "O2O primary key": (zoo.ShelfLabel, lambda t: zoo.ShelfLabel(shelf=shelf(), text=u()), None),
    "UUID key": (zoo.UuidItem, lambda t: zoo.UuidItem(name=u()), None),
    "natural key": (zoo.Sku, lambda t: zoo.Sku(code=u(), name=u()), None),
    "small auto key": (zoo.SmallItem, lambda t: zoo.SmallItem(name=u()), None),
    "int auto key": (zoo.IntItem, lambda t: zoo.IntItem(name=u()), None),
    "mixed-case table and tenant column": (zoo.MixedCase, lambda t: zoo.MixedCase(title=u()), None),
    "reserved words": (zoo.Select, lambda t: zoo.Select(group=u(), order=1, user=u()), None),
    "JSON, generated, db_default": (zoo.Gadget, lambda t: zoo.Gadget(data={"k": u()}, a=1), None),
    "generic relation": (
        zoo.Note,
        lambda t: zoo.Note(
            content_type=ContentType.objects.get_for_model(zoo.Shelf),
            object_id=shelf().pk,
            text=u(),
        ),
        None,
    ),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_zoo_tenant_model_is_isolated(tenant_pair, shape):
    model, make, reference = SHAPES[shape]
    assert_tenant_isolation(model, make, tenants=tenant_pair, using=APP, reference=reference)


def test_another_apps_tenant_model_cannot_be_referenced_across_tenants(tenant_pair):
    assert_tenant_isolation(
        Project,
        lambda t: Project(name="p", code=u()),
        tenants=tenant_pair,
        using=APP,
        reference=lambda p: zoo.Crate(aisle=aisle(), project=p),
    )


def test_auto_created_m2m_between_tenant_models_is_isolated(tenant_pair):
    assert_link_isolation(
        zoo.Shelf,
        "badges",
        lambda t: (shelf(), zoo.Badge.objects.using(APP).create(name=u())),
        tenants=tenant_pair,
        using=APP,
    )


def _count(table: str) -> int:
    with connections[APP].cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {connections[APP].ops.quote_name(table)}")
        return cursor.fetchone()[0]


@pytest.mark.parametrize(
    ("declaring", "field"),
    [(zoo.Shelf, "colours"), (zoo.Catalog, "badges")],
    ids=["tenant model to plain model", "plain model to tenant model"],
)
def test_links_with_one_tenant_end_stay_in_their_tenant(tenant_pair, declaring, field):
    """A link table with a tenant model at one end only: no tenant sees another tenant's
    links (they name its rows' ids), and none can link to another tenant's row."""
    m2m = declaring._meta.get_field(field)
    table = m2m.remote_field.through._meta.db_table
    shelves_side = declaring is zoo.Shelf
    made = {}
    for tenant in tenant_pair:
        with tenant_context(tenant):
            if shelves_side:
                source, target = shelf(), zoo.Colour.objects.using(APP).create(name=u())
            else:
                source = zoo.Catalog.objects.using(APP).create(title=u())
                target = zoo.Badge.objects.using(APP).create(name=u())
            getattr(source, field).add(target)
            made[tenant] = (source, target)
    a, b = tenant_pair
    with tenant_context(a):
        assert _count(table) == 1, "a tenant sees another tenant's links"
        source_a, _ = made[a]
        tenant_row_of_b = made[b][0] if shelves_side else made[b][1]
        with pytest.raises(DatabaseError), transaction.atomic(using=APP):
            if shelves_side:
                tenant_row_of_b.colours.add(made[a][1])
            else:
                source_a.badges.add(tenant_row_of_b)
    with tenant_context(None):
        assert _count(table) == 0, "links are visible without a tenant"
