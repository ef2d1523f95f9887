"""``--tenant`` bounds the whole cascade of soft_delete, restore_deleted and purge_deleted,
even on the cross-tenant alias (``PRODPATTERNS["ADMIN_DATABASE"]``, a BYPASSRLS role).

There, row level security filters nothing, so the tenant must be stated in the SQL of every
step of the cascade, not only of the rows named on the command line. A generic relation is
the edge that shows it: a ``GenericForeignKey`` has no database constraint, so tenant B's
note can name tenant A's shelf (the ``(tenant, key)`` foreign keys keep a plain
ForeignKey inside its tenant, but nothing keeps a content type and an object id there).
"""

import uuid
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connections
from django.test.utils import CaptureQueriesContext

from django_prodpatterns.context import tenant_context
from tests.helpers import CROSS
from tests.zoo import models as zoo

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "app", CROSS])


def run(*argv: str) -> str:
    out = StringIO()
    call_command(*argv, stdout=out)
    return out.getvalue()


def shelf_of(tenant: Any) -> zoo.Shelf:
    with tenant_context(tenant):
        aisle = zoo.Aisle.objects.create(code=uuid.uuid4().hex[:10])
        return zoo.Shelf.objects.create(aisle=aisle, label="shelf")


def note_on(tenant: Any, shelf: zoo.Shelf) -> zoo.Note:
    """A note of ``tenant`` whose generic foreign key names ``shelf`` (of any tenant)."""
    with tenant_context(tenant):
        return zoo.Note.objects.create(target=shelf, text=f"of {tenant.pk}")


def row(tenant: Any, model: Any, pk: Any) -> Any:
    """The row as its own tenant sees it, alive or soft-deleted (None once purged)."""
    with tenant_context(tenant):
        return model.all_objects.filter(pk=pk).first()


@pytest.fixture
def setup(tenant_pair, cross_tenant_alias) -> dict[str, Any]:
    """A's shelf, with a note of A's and a note of B's on it."""
    a, b = tenant_pair
    shelf = shelf_of(a)
    return {"a": a, "b": b, "shelf": shelf, "ours": note_on(a, shelf), "theirs": note_on(b, shelf)}


def test_soft_delete_does_not_follow_a_generic_relation_into_another_tenant(setup):
    """The cascade of A's shelf takes A's note and leaves B's alone."""
    a, b, shelf = setup["a"], setup["b"], setup["shelf"]
    text = run(
        *("soft_delete", "menagerie.Shelf", "--pk", str(shelf.pk)),
        *("--tenant", str(a.pk), "--database", CROSS),
    )
    assert "menagerie.Note: 1" in text
    assert row(a, zoo.Shelf, shelf.pk).is_deleted
    assert row(a, zoo.Note, setup["ours"].pk).is_deleted
    theirs = row(b, zoo.Note, setup["theirs"].pk)
    assert not theirs.is_deleted
    assert theirs.deletion_batch is None


@pytest.mark.parametrize(
    "select",
    [
        pytest.param(lambda shelf: ["--pk", str(shelf.pk)], id="by pk"),
        pytest.param(lambda shelf: ["--batch", str(shelf.deletion_batch)], id="by batch"),
        pytest.param(lambda shelf: ["--all"], id="all"),
    ],
)
def test_restore_does_not_bring_back_another_tenants_row_of_the_same_batch(
    setup, select: Callable[[zoo.Shelf], list[str]]
):
    """A delete on the cross-tenant alias without ``--tenant`` (an operator's, across
    tenants) put B's note in A's batch; restoring inside A brings back A's rows only."""
    a, b, shelf = setup["a"], setup["b"], setup["shelf"]
    run("soft_delete", "menagerie.Shelf", "--pk", str(shelf.pk), "--database", CROSS)
    shelf = row(a, zoo.Shelf, shelf.pk)
    theirs = row(b, zoo.Note, setup["theirs"].pk)
    assert theirs.deletion_batch == shelf.deletion_batch  # the premise: one batch, two tenants

    text = run(
        *("restore_deleted", "menagerie.Shelf", *select(shelf)),
        *("--tenant", str(a.pk), "--database", CROSS),
    )
    assert "menagerie.Note: 1" in text
    assert not row(a, zoo.Shelf, shelf.pk).is_deleted
    assert not row(a, zoo.Note, setup["ours"].pk).is_deleted
    after = row(b, zoo.Note, theirs.pk)
    assert (after.deleted_at, after.deletion_batch) == (theirs.deleted_at, theirs.deletion_batch)


@pytest.mark.parametrize("theirs_deleted", [False, True], ids=["B's note alive", "B's note dead"])
def test_purge_does_not_hard_delete_another_tenants_generic_child(setup, theirs_deleted: bool):
    """Purging A's dead shelf removes it and A's note for real; B's note, alive or
    soft-deleted by B, stays (only B's own purge may remove it)."""
    a, b, shelf = setup["a"], setup["b"], setup["shelf"]
    with tenant_context(a):
        zoo.Shelf.objects.get(pk=shelf.pk).delete()  # inside A, under row level security
    if theirs_deleted:
        with tenant_context(b):
            zoo.Note.objects.get(pk=setup["theirs"].pk).delete()
    run("purge_deleted", "--older-than", "0s", "--tenant", str(a.pk), "--database", CROSS)
    assert row(a, zoo.Shelf, shelf.pk) is None
    assert row(a, zoo.Note, setup["ours"].pk) is None
    theirs = row(b, zoo.Note, setup["theirs"].pk)
    assert theirs is not None
    assert theirs.is_deleted is theirs_deleted


def test_the_tenant_bound_costs_no_query_per_row(tenant_pair, cross_tenant_alias):
    """The bound is a condition in each cascade statement, so a bounded soft delete still
    costs the same number of queries for one shelf as for three."""
    a, b = tenant_pair

    def queries(count: int) -> int:
        shelves = [shelf_of(a) for _ in range(count)]
        for shelf in shelves:
            note_on(a, shelf)
            note_on(b, shelf)
        pks = [arg for shelf in shelves for arg in ("--pk", str(shelf.pk))]
        with CaptureQueriesContext(connections[CROSS]) as captured:
            run("soft_delete", "menagerie.Shelf", *pks, "--tenant", str(a.pk), "--database", CROSS)
        with tenant_context(b):
            assert not zoo.Note.deleted_objects.exists()
        return len(captured.captured_queries)

    queries(1)  # warms the connection and the content type cache
    assert queries(1) == queries(3)
