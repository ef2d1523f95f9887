"""Soft delete on the zoo's shapes: cascades through every kind of relation, exact restore,
PROTECT decided before anything is written, and links through a soft-deleted through row
that are gone from every path Django offers."""

import uuid

import pytest
from django.db import connection, models
from django.test.utils import CaptureQueriesContext

from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import get_tenant_model
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db


def u() -> str:
    return uuid.uuid4().hex[:10]


@pytest.fixture
def tenant():
    t = get_tenant_model().objects.create(name="zoo", slug=f"zoo-{u()}")
    with tenant_context(t):
        yield t


def writes(queries) -> list[str]:
    """Every captured statement that is not a read (savepoints aside)."""
    return [
        q["sql"]
        for q in queries
        if not q["sql"].lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE", "ROLLBACK"))
    ]


def alive(model) -> set:
    return set(model.objects.values_list("pk", flat=True))


def test_a_cascade_reaches_every_relation_shape_and_restore_is_exact(tenant):
    """Lazy FK, hidden reverse relation, one-to-one primary key, to_field key, generic
    relation, all soft-deleted as one batch; restore brings back exactly that batch."""
    aisle = zoo.Aisle.objects.create(code=u())
    shelves = [zoo.Shelf.objects.create(aisle=aisle, label=u()) for _ in range(2)]
    bins = [zoo.Bin.objects.create(shelf=s) for s in shelves]
    label = zoo.ShelfLabel.objects.create(shelf=shelves[0], text="front")
    crate = zoo.Crate.objects.create(aisle=aisle)
    note = zoo.Note.objects.create(target=shelves[1], text="n")
    earlier = zoo.Bin.objects.create(shelf=shelves[0])
    earlier.delete()  # gone before: must stay gone after the restore

    total, counts = aisle.delete()
    assert counts == {
        "menagerie.Aisle": 1,
        "menagerie.Shelf": 2,
        "menagerie.Bin": 2,
        "menagerie.ShelfLabel": 1,
        "menagerie.Crate": 1,
        "menagerie.Note": 1,
    }
    assert total == 8
    for model in (zoo.Shelf, zoo.Bin, zoo.ShelfLabel, zoo.Crate, zoo.Note):
        assert alive(model) == set()
    batch = zoo.Aisle.all_objects.get().deletion_batch
    assert set(zoo.Bin.all_objects.values_list("deletion_batch", flat=True)) == {
        batch,
        earlier.deletion_batch,
    }

    zoo.Aisle.all_objects.get().restore()
    assert alive(zoo.Shelf) == {s.pk for s in shelves}
    assert alive(zoo.Bin) == {b.pk for b in bins}
    assert alive(zoo.ShelfLabel) == {label.pk}
    assert alive(zoo.Crate) == {crate.pk}
    assert alive(zoo.Note) == {note.pk}
    assert zoo.Bin.deleted_objects.get().pk == earlier.pk


def test_a_tree_cascades_every_level_and_restores_exactly(tenant):
    root = zoo.Node.objects.create(name="root")
    level, everyone = [root], [root]
    for depth in range(3):
        level = [zoo.Node.objects.create(parent=p, name=f"{depth}") for p in level for _ in "ab"]
        everyone += level
    assert root.delete()[0] == len(everyone) == 15
    assert alive(zoo.Node) == set()
    zoo.Node.all_objects.get(pk=root.pk).restore()
    assert alive(zoo.Node) == {n.pk for n in everyone}


@pytest.mark.parametrize(
    ("make_protector", "victim"),
    [
        (lambda shelf, node: zoo.Guard.objects.create(shelf=shelf), "aisle"),
        (lambda shelf, node: zoo.NodeLock.objects.create(node=node), "root"),
    ],
    ids=["hidden relation, acyclic graph", "tree (cyclic graph)"],
)
def test_protect_raises_before_anything_is_written(tenant, make_protector, victim):
    """A live protector anywhere in the cascade: ProtectedError, and the database saw
    nothing but reads (no UPDATE, so no row lock and no trigger work)."""
    aisle = zoo.Aisle.objects.create(code=u())
    shelf = zoo.Shelf.objects.create(aisle=aisle, label=u())
    root = zoo.Node.objects.create(name="root")
    deep = zoo.Node.objects.create(parent=zoo.Node.objects.create(parent=root, name="1"), name="2")
    make_protector(shelf, deep)  # on the shelf under the aisle, or two levels under the root
    target = aisle if victim == "aisle" else root
    with CaptureQueriesContext(connection) as captured, pytest.raises(models.ProtectedError):
        target.delete()
    assert writes(captured.captured_queries) == []
    assert len(captured.captured_queries) > 0
    assert type(target).objects.filter(pk=target.pk).exists()


def test_a_protector_deleted_earlier_no_longer_protects(tenant):
    aisle = zoo.Aisle.objects.create(code=u())
    shelf = zoo.Shelf.objects.create(aisle=aisle, label=u())
    zoo.Guard.objects.create(shelf=shelf).delete()
    assert aisle.delete()[1]["menagerie.Shelf"] == 1


def _tagged_order():
    order = zoo.Order.objects.create(number=u())
    kept, dropped = zoo.Tag.objects.create(name="kept"), zoo.Tag.objects.create(name="dropped")
    zoo.OrderTag.objects.create(order=order, tag=kept)
    link = zoo.OrderTag.objects.create(order=order, tag=dropped)
    return order, kept, dropped, link


def test_a_soft_deleted_through_row_hides_its_link_everywhere(tenant):
    order, kept, dropped, link = _tagged_order()
    link.delete()
    assert list(order.tags.all()) == [kept]
    assert list(dropped.orders.all()) == []
    assert order.tags.count() == 1
    assert list(order.tags.values_list("name", flat=True)) == ["kept"]
    assert list(zoo.Order.objects.filter(pk=order.pk).values_list("tags__name", flat=True)) == [
        "kept"
    ]
    assert not zoo.Order.objects.filter(tags__name="dropped").exists()
    assert list(zoo.Order.objects.exclude(tags__name="dropped")) == [order]
    assert list(zoo.Order.objects.exclude(tags__name="kept")) == []
    prefetched = zoo.Order.objects.prefetch_related("tags").get(pk=order.pk)
    assert [t.name for t in prefetched.tags.all()] == ["kept"]
    reverse = zoo.Tag.objects.prefetch_related("orders").get(pk=dropped.pk)
    assert list(reverse.orders.all()) == []
    # the through model itself still sees its dead row
    assert zoo.OrderTag.all_objects.filter(pk=link.pk).exists()


def test_restoring_the_through_row_brings_the_link_back(tenant):
    order, _kept, _dropped, link = _tagged_order()
    link.delete()
    zoo.OrderTag.all_objects.get(pk=link.pk).restore()
    assert set(order.tags.values_list("name", flat=True)) == {"kept", "dropped"}


def test_remove_soft_deletes_the_link_and_add_makes_a_new_one(tenant):
    order, kept, dropped, link = _tagged_order()
    order.tags.remove(dropped)
    assert zoo.OrderTag.deleted_objects.get().pk == link.pk
    assert list(order.tags.all()) == [kept]
    order.tags.add(dropped)
    assert set(order.tags.values_list("name", flat=True)) == {"kept", "dropped"}
    assert zoo.OrderTag.all_objects.count() == 3


def test_a_proxy_of_a_soft_delete_model_cascades_and_restores(tenant):
    doc = zoo.DocProxy.objects.create(name="d")
    zoo.Page.objects.create(doc=doc, number=1)
    total, _counts = doc.delete()
    assert total == 2
    assert zoo.DocProxy.objects.count() == 0
    assert zoo.DocProxy.deleted_objects.count() == 1
    assert zoo.Page.objects.count() == 0
    zoo.DocProxy.all_objects.get().restore()
    assert (zoo.DocProxy.objects.count(), zoo.Page.objects.count()) == (1, 1)
