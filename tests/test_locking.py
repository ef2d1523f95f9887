"""Optimistic locking: stale writes conflict, in one round trip, whatever writes them."""

import threading

import pytest
from django.db import connections, transaction

from django_prodpatterns.exceptions import ConflictError
from tests.testapp.models import Counter, PlainCounter

pytestmark = pytest.mark.django_db


def two_editors():
    counter = Counter.objects.create()
    return Counter.objects.get(pk=counter.pk), Counter.objects.get(pk=counter.pk)


def test_a_versioned_save_is_one_query(django_assert_num_queries):
    counter = Counter.objects.create()
    counter.value = 5
    with django_assert_num_queries(1):
        counter.save()
    assert counter.version == 2
    counter.refresh_from_db()
    assert (counter.value, counter.version) == (5, 2)


def test_the_second_editor_conflicts_with_details(django_assert_num_queries):
    first, second = two_editors()
    first.value = 1
    first.save()
    second.value = 2
    with (
        django_assert_num_queries(5),  # savepoint, the UPDATE, one SELECT, rollback, release
        pytest.raises(ConflictError) as excinfo,
        transaction.atomic(),
    ):
        second.save()
    error = excinfo.value
    assert (error.model, error.pk, error.expected, error.current) == (Counter, first.pk, 1, 2)
    assert Counter.objects.get(pk=first.pk).value == 1


def test_update_fields_are_version_checked_too():
    first, second = two_editors()
    first.name = "x"
    first.save(update_fields=["name"])
    second.value = 9
    with pytest.raises(ConflictError), transaction.atomic():
        second.save(update_fields=["value"])
    assert Counter.objects.get(pk=first.pk).version == 2


def test_queryset_update_bumps_versions_so_stale_editors_conflict():
    first, _ = two_editors()
    assert Counter.objects.filter(pk=first.pk).update(value=3) == 1
    first.value = 4
    with pytest.raises(ConflictError), transaction.atomic():
        first.save()


def test_bulk_update_checks_each_rows_version():
    first, second = two_editors()
    other = Counter.objects.create()
    first.value = 1
    first.save()
    second.value, other.value = 2, 2
    with pytest.raises(ConflictError), transaction.atomic():
        Counter.objects.bulk_update([other, second], ["value"])
    assert Counter.objects.get(pk=other.pk).value == 0  # nothing written
    other.value = 7
    Counter.objects.bulk_update([other], ["value"])
    assert Counter.objects.values_list("value", "version").get(pk=other.pk) == (7, 2)
    assert other.version == 2


def test_delete_is_version_checked():
    first, second = two_editors()
    first.value = 1
    first.save()
    with pytest.raises(ConflictError), transaction.atomic():
        second.delete()
    assert Counter.objects.filter(pk=first.pk).exists()
    first.delete()
    assert not Counter.objects.filter(pk=first.pk).exists()


def test_writing_the_version_by_hand_is_refused():
    counter = Counter.objects.create()
    counter.version = 99
    with pytest.raises(ValueError, match="managed"):
        counter.save()
    with pytest.raises(ValueError, match="managed"):
        Counter.objects.update(version=5)


def _hammer(model, pk, threads=8, increments=200):
    """Each thread increments ``value`` ``increments`` times, retrying on ConflictError."""
    conflicts = []
    barrier = threading.Barrier(threads)

    def work():
        seen = 0
        try:
            barrier.wait(timeout=10)
            done = 0
            while done < increments:
                row = model.objects.get(pk=pk)
                row.value += 1
                try:
                    row.save()
                    done += 1
                except ConflictError:
                    seen += 1
        finally:
            conflicts.append(seen)
            connections.close_all()

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return model.objects.get(pk=pk).value, sum(conflicts)


@pytest.mark.django_db(transaction=True)
def test_eight_threads_of_read_modify_write_lose_nothing(capsys):
    counter = Counter.objects.create()
    value, conflicts = _hammer(Counter, counter.pk)
    plain = PlainCounter.objects.create()
    plain_value, _ = _hammer(PlainCounter, plain.pk)
    with capsys.disabled():
        print(
            f"\n8 threads x 200 increments: versioned {value} ({conflicts} conflicts retried),"
            f" unversioned {plain_value}"
        )
    assert value == 1600
    assert conflicts > 0  # the threads really did collide


@pytest.mark.django_db(transaction=True)
def test_asave_and_adelete_are_version_checked_too():
    import asyncio

    from asgiref.sync import sync_to_async

    first, second = two_editors()

    async def flow():
        first.value = 1
        await first.asave()
        second.value = 2
        outcomes = []
        for action in (second.asave, second.adelete):
            try:
                await action()
                outcomes.append("ok")
            except ConflictError as error:
                outcomes.append(error.current)
        await first.adelete()
        left = await Counter.objects.filter(pk=first.pk).aexists()
        await sync_to_async(connections.close_all)()
        return outcomes, left

    outcomes, left = asyncio.run(flow())
    assert outcomes == [2, 2]
    assert left is False
