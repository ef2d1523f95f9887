"""Optimistic locking on the zoo's versioned shapes: a stale save or delete conflicts,
whatever the key type, base order or proxy."""

import uuid

import pytest
from django.db import transaction

from django_prodpatterns.context import tenant_context
from django_prodpatterns.exceptions import ConflictError
from django_prodpatterns.models import get_tenant_model
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    t = get_tenant_model().objects.create(name="zoo", slug=f"zoo-{uuid.uuid4().hex[:8]}")
    with tenant_context(t):
        yield t


def shelf():
    aisle = zoo.Aisle.objects.create(code=uuid.uuid4().hex[:8])
    return zoo.Shelf.objects.create(aisle=aisle, label="s")


VERSIONED = {
    "user abstract base": (shelf, "label"),
    "M2M through by string": (lambda: zoo.Order.objects.create(number="1"), "number"),
    "UUID key": (lambda: zoo.UuidItem.objects.create(name="n"), "name"),
    "plain VersionedModel": (lambda: zoo.Ticket.objects.create(title="t"), "title"),
    "proxy": (lambda: zoo.TicketProxy.objects.create(title="t"), "title"),
}


@pytest.mark.parametrize("shape", VERSIONED)
def test_a_stale_save_and_a_stale_delete_conflict(tenant, shape):
    make, field = VERSIONED[shape]
    row = make()
    model = type(row)
    mine, theirs = model._base_manager.get(pk=row.pk), model._base_manager.get(pk=row.pk)
    setattr(theirs, field, "theirs")
    theirs.save()
    setattr(mine, field, "mine")
    with pytest.raises(ConflictError) as conflict, transaction.atomic():
        mine.save()
    assert (conflict.value.expected, conflict.value.current) == (1, 2)
    with pytest.raises(ConflictError), transaction.atomic():
        mine.delete()
    fresh = model._base_manager.get(pk=row.pk)
    assert (getattr(fresh, field), fresh.version) == ("theirs", 2)
