"""Keyset pagination: every row exactly once, in order, both ways, while rows come and go;
and every kind of bad cursor is an InvalidCursor (a 400 through a view)."""

import base64
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db.models.functions import Lower
from django.test import override_settings
from django.utils import timezone

from django_prodpatterns.exceptions import InvalidCursor
from django_prodpatterns.pagination import KeysetPaginator
from tests.testapp.models import Document, Entry, Project

pytestmark = pytest.mark.django_db

ORDERINGS = [
    ["rank"],  # not unique: the pk breaks ties
    ["-rank"],
    ["rank", "-title"],  # mixed
    ["-published", "title"],  # nullable first column, descending
    ["score", "-rank"],  # nullable, ascending
    ["-score", "published"],  # both nullable
    ["amount", "pk"],
]


@pytest.fixture
def entries():
    rng = random.Random(7)
    now = timezone.now()
    Entry.objects.bulk_create(
        Entry(
            rank=rng.randrange(10),
            score=rng.choice([None, rng.randrange(5)]),
            title=rng.choice("abcde"),
            published=rng.choice([None, now - timedelta(days=rng.randrange(4))]),
            amount=Decimal(rng.randrange(500)) / 100,
        )
        for _ in range(95)
    )


def python_order(ordering):
    """The order PostgreSQL gives, computed in Python: NULLs last ascending, first
    descending (stable sorts from the last column to the first)."""
    rows = list(Entry.objects.all())
    for item in reversed(ordering):
        name = "pk" if item.lstrip("-") == "pk" else item.lstrip("-")

        def key(entry, name=name):
            value = getattr(entry, name)
            return (value is None, 0 if value is None else value)

        rows.sort(key=key, reverse=item.startswith("-"))
    return [e.pk for e in rows]


def total(ordering):
    """The ordering the paginator completes: the pk, in the direction of the last column."""
    if "pk" in ordering:
        return ordering
    return [*ordering, "-pk" if ordering[-1].startswith("-") else "pk"]


def walk(paginator, direction="forward", between=None):
    """Follow next (or previous) cursors to the end; return the pks in display order."""
    page = paginator.page()
    if direction == "backward":
        while page.has_next:
            page = paginator.page(page.next_cursor)
    seen = []
    for _ in range(1000):  # a walk that does not end is a failure, not a hang
        seen.append([e.pk for e in page])
        if between:
            between()
        if direction == "forward" and page.has_next:
            page = paginator.page(page.next_cursor)
        elif direction == "backward" and page.has_previous:
            page = paginator.page(page.previous_cursor)
        else:
            break
    else:
        pytest.fail("the walk did not reach the end")
    if direction == "backward":
        seen.reverse()
    return [pk for chunk in seen for pk in chunk]


@pytest.mark.parametrize("ordering", ORDERINGS, ids=",".join)
@pytest.mark.parametrize("direction", ["forward", "backward"])
def test_every_row_once_in_order(entries, ordering, direction):
    paginator = KeysetPaginator(Entry.objects.order_by(*ordering), per_page=10)
    expected = list(Entry.objects.order_by(*total(ordering)).values_list("pk", flat=True))
    assert walk(paginator, direction) == expected == python_order(total(ordering))


@pytest.mark.parametrize("ordering", ORDERINGS, ids=",".join)
def test_rows_inserted_and_deleted_between_pages(entries, ordering):
    """Rows that exist for the whole walk appear exactly once, in order; nothing repeats."""
    rng = random.Random(ordering[0])
    stable = set(Entry.objects.values_list("pk", flat=True))
    doomed = set(rng.sample(sorted(stable), 20))
    stable -= doomed

    def churn():
        if doomed:
            Entry.objects.filter(pk=doomed.pop()).delete()
        Entry.objects.create(rank=rng.randrange(10), title="n", score=None)

    paginator = KeysetPaginator(Entry.objects.order_by(*ordering), per_page=7)
    for direction in ("forward", "backward"):
        seen = walk(paginator, direction, between=churn)
        assert len(seen) == len(set(seen))
        assert stable <= set(seen)
        final = list(Entry.objects.order_by(*total(ordering)).values_list("pk", flat=True))
        positions = [final.index(pk) for pk in seen if pk in final]
        assert positions == sorted(positions)


def test_page_shape_and_neighbours(entries):
    paginator = KeysetPaginator(Entry.objects.order_by("rank"), per_page=40)
    first = paginator.page()
    assert (len(first), first.has_previous, first.has_next) == (40, False, True)
    assert first.previous_cursor is None
    second = paginator.page(first.next_cursor)
    assert second.has_previous and second.has_next
    back = paginator.page(second.previous_cursor)
    assert [e.pk for e in back] == [e.pk for e in first]
    last = paginator.page(paginator.page(second.next_cursor).previous_cursor)
    assert [e.pk for e in last] == [e.pk for e in second]


def test_a_deep_page_is_one_query(entries, django_assert_num_queries):
    paginator = KeysetPaginator(Entry.objects.order_by("-rank"), per_page=10)
    cursor = paginator.page().next_cursor
    for _ in range(5):
        with django_assert_num_queries(1):
            page = paginator.page(cursor)
        cursor = page.next_cursor


def test_the_uniform_order_uses_a_row_value_comparison(entries):
    paginator = KeysetPaginator(Entry.objects.order_by("-rank", "-id"), per_page=5)
    values = [3, 50]
    sql = str(Entry.objects.filter(paginator._after(values, reverse=False)).query)
    assert '("testapp_entry"."rank", "testapp_entry"."id") < (3, 50)' in sql


@pytest.mark.django_db(transaction=True, databases=["default", "app"])
def test_it_works_over_scoped_querysets(tenant_pair):
    from django_prodpatterns.context import tenant_context

    for tenant in tenant_pair:
        with tenant_context(tenant):
            Project.objects.bulk_create(
                Project(name=f"{tenant.pk}-{i}", code=f"c{i}") for i in range(5)
            )
    try:
        with tenant_context(tenant_pair[0]):
            paginator = KeysetPaginator(Project.objects.order_by("name"), per_page=2)
            expected = list(Project.objects.order_by("name").values_list("pk", flat=True))
            assert walk(paginator) == expected and len(expected) == 5
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Project.objects.all().delete()


def tampered(cursor):
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[5] ^= 1
    return base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")


def forged(paginator, payload):
    """A cursor sealed with the project's key, as only the server can make one."""
    return paginator._seal(payload.encode())


def sealed_with_another_key(paginator, payload):
    with override_settings(SECRET_KEY="x" * 50):
        return forged(paginator, payload)


BAD_CURSORS = {
    "garbage": lambda p, good: "not a cursor!",
    "truncated": lambda p, good: good[: len(good) // 2],
    "tampered": lambda p, good: tampered(good),
    "unsealed": lambda p, good: (
        base64.urlsafe_b64encode(b'["f",false,[1,2]]' + b" " * 16).decode().rstrip("=")
    ),
    "another key": lambda p, good: sealed_with_another_key(p, '["f",false,[1,2]]'),
    "another listing": lambda p, good: (
        KeysetPaginator(Entry.objects.order_by("-rank"), per_page=3).page().next_cursor
    ),
    "another model": lambda p, good: forged(
        KeysetPaginator(Document.objects.order_by("title"), per_page=3), '["f",false,["x",1]]'
    ),
    "wrong length": lambda p, good: forged(p, '["f",false,[1]]'),
    "wrong type": lambda p, good: forged(p, '["f",false,["x",1]]'),
    "wrong direction": lambda p, good: forged(p, '["x",false,[1,2]]'),
}


@pytest.mark.parametrize("kind", BAD_CURSORS)
def test_bad_cursors_are_invalid(entries, kind):
    paginator = KeysetPaginator(Entry.objects.order_by("rank"), per_page=3)
    good = paginator.page().next_cursor
    assert paginator.page(good).object_list
    with pytest.raises(InvalidCursor):
        paginator.page(BAD_CURSORS[kind](paginator, good))


@pytest.mark.parametrize("kind", ["garbage", "tampered", "another listing"])
def test_the_view_answers_400_for_a_bad_cursor(client, entries, kind):
    good = client.get("/entries/").json()["next"]
    assert client.get("/entries/", {"cursor": good}).status_code == 200
    paginator = KeysetPaginator(Entry.objects.order_by("rank"), per_page=3)
    response = client.get("/entries/", {"cursor": BAD_CURSORS[kind](paginator, good)})
    assert response.status_code == 400


def test_an_unordered_or_unsupported_ordering_is_refused():
    with pytest.raises(ValueError, match="ordered"):
        KeysetPaginator(Entry.objects.all(), per_page=5)
    with pytest.raises(ValueError, match=r"fields of testapp\.Entry only"):
        KeysetPaginator(Entry.objects.order_by("?"), per_page=5)
    with pytest.raises(ValueError, match=r"fields of testapp\.Entry only"):
        KeysetPaginator(Entry.objects.order_by(Lower("title")), per_page=5)
    with pytest.raises(ValueError, match="at least 1"):
        KeysetPaginator(Entry.objects.order_by("rank"), per_page=0)
