"""Soft-delete cascade and alive-row queries, as ratios in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    pip install -e ".[dev,bench]"      # bench brings django-safedelete, the peer compared
    python benchmarks/bench_softdelete.py [--sizes 1000 10000] [--rounds 3] [--rows 1000000]

1. Cascade: soft-delete a parent with N children and N grandchildren (one per child), and
   restore it, against (a) three hand-written UPDATEs (the lower bound) and (b)
   django-safedelete's SOFT_DELETE_CASCADE. Time (median of rounds) and query count.
2. Alive rows: a page of an owner's newest alive rows, and the count of them, on a table of
   ``--rows`` rows with 90 % deleted: with a plain index, with the partial index that
   ``alive_index()`` emits, and against a table that holds only the alive rows.
"""

import argparse
import random
import statistics
import time
import uuid

from _setup import setup

setup()

from django.db import connection, transaction  # noqa: E402
from django.utils import timezone  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402

HAVE_SAFEDELETE = bench.SafeDeleteModel is not None


def build(n, parent_model, child_model, grand_model):
    """A fresh parent with n children and n grandchildren, all other rows removed first."""
    tables = [m._meta.db_table for m in (grand_model, child_model, parent_model)]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")
    parent = parent_model.objects.create(name="p")
    children = child_model.objects.bulk_create(child_model(parent=parent) for _ in range(n))
    grand_model.objects.bulk_create(grand_model(child=child) for child in children)
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {', '.join(tables)}")
    return parent


def hand_written(parent):
    """The lower bound: one UPDATE per table, written by hand."""
    now, batch = timezone.now(), uuid.uuid4()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE benchapp_parent SET deleted_at = %s, deletion_batch = %s WHERE id = %s",
            [now, batch, parent.pk],
        )
        cursor.execute(
            "UPDATE benchapp_child SET deleted_at = %s, deletion_batch = %s"
            " WHERE parent_id = %s AND deleted_at IS NULL",
            [now, batch, parent.pk],
        )
        cursor.execute(
            "UPDATE benchapp_grandchild SET deleted_at = %s, deletion_batch = %s"
            " WHERE deleted_at IS NULL AND child_id IN"
            " (SELECT id FROM benchapp_child WHERE deletion_batch = %s)",
            [now, batch, batch],
        )


def hand_written_restore(parent):
    """The lower bound for a restore: one UPDATE per table, written by hand."""
    batch = type(parent).all_objects.get(pk=parent.pk).deletion_batch
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE benchapp_parent SET deleted_at = NULL WHERE id = %s", [parent.pk])
        cursor.execute(
            "UPDATE benchapp_child SET deleted_at = NULL"
            " WHERE parent_id = %s AND deletion_batch = %s",
            [parent.pk, batch],
        )
        cursor.execute(
            "UPDATE benchapp_grandchild SET deleted_at = NULL WHERE deletion_batch = %s"
            " AND child_id IN (SELECT id FROM benchapp_child WHERE parent_id = %s)",
            [batch, parent.pk],
        )


def timed(action, parent):
    """Seconds and statements sent (BEGIN/COMMIT included) for one action."""
    sent = []

    def count(execute, sql, params, many, context):
        sent.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        start = time.perf_counter()
        with transaction.atomic():  # one transaction each, as the lower bound uses
            action(parent)
        elapsed = time.perf_counter() - start
    return elapsed, len(sent)


def cascade(sizes, rounds):
    ours = (bench.Parent, bench.Child, bench.GrandChild)
    rows = []
    for n in sizes:
        results = {}
        for name, models, action, repeat in [
            ("hand-written UPDATEs", ours, hand_written, rounds),
            ("django_prodpatterns delete", ours, lambda p: p.delete(), rounds),
            ("hand-written restore", ours, hand_written_restore, rounds),
            ("django_prodpatterns restore", ours, lambda p: p.restore(), rounds),
            *(
                [
                    (
                        "django-safedelete delete",
                        (bench.SafeParent, bench.SafeChild, bench.SafeGrandChild),
                        lambda p: p.delete(),
                        1 if n > 2000 else rounds,
                    )
                ]
                if HAVE_SAFEDELETE
                else []
            ),
        ]:
            times, count = [], 0
            for _ in range(repeat):
                parent = build(n, *models)
                if "restore" in name:  # delete first, then time the restore
                    parent.delete()
                elapsed, count = timed(action, parent)
                times.append(elapsed)
            results[name] = (statistics.median(times), count)
        for name, (seconds, count) in results.items():
            base_name = "hand-written restore" if "restore" in name else "hand-written UPDATEs"
            rows.append((n, name, seconds, count, seconds / results[base_name][0]))
    print(f"\n{'N children':>10}  {'operation':30} {'seconds':>9} {'queries':>8} {'vs hand':>8}")
    for n, name, seconds, count, ratio in rows:
        print(f"{n:>10}  {name:30} {seconds:9.4f} {count:8d} {ratio:8.2f}")
    if HAVE_SAFEDELETE:
        for n in sizes:
            ours_s = next(r[2] for r in rows if r[0] == n and r[1].endswith("prodpatterns delete"))
            peer_s = next(r[2] for r in rows if r[0] == n and r[1].startswith("django-safedelete"))
            print(f"N={n}: django-safedelete takes {peer_s / ours_s:.0f}x as long")
    else:
        print("django-safedelete is not installed: pip install -e '.[bench]' to compare")


ALIVE_TABLES = {
    "plain index (90 % deleted)": ("bench_items_plain", "(owner, created DESC)", ""),
    "partial index (90 % deleted)": (
        "bench_items_partial",
        "(owner, created DESC)",
        " WHERE deleted_at IS NULL",
    ),
    "alive rows only": ("bench_items_alive", "(owner, created DESC)", ""),
}
OWNERS = 1000


def build_items(total):
    with connection.cursor() as cursor:
        for table, columns, where in ALIVE_TABLES.values():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (id bigint PRIMARY KEY, owner integer NOT NULL,"
                " created timestamptz NOT NULL, title text NOT NULL, deleted_at timestamptz)"
            )
            only_alive = "WHERE ((g / %s) %% 10) = 3" if table.endswith("alive") else ""
            cursor.execute(
                f"INSERT INTO {table} SELECT g, g %% %s, now() - g * interval '1 second',"
                " 'item ' || g,"
                " CASE WHEN ((g / %s) %% 10) = 3 THEN NULL ELSE now() END"
                f" FROM generate_series(1, %s) g {only_alive}",
                [OWNERS, OWNERS, total, *([OWNERS] if only_alive else [])],
            )
            cursor.execute(f"CREATE INDEX ON {table} {columns}{where}")
            cursor.execute(f"VACUUM ANALYZE {table}")


def alive_queries(total, samples):
    build_items(total)
    rng = random.Random(42)
    owners = [rng.randrange(OWNERS) for _ in range(samples)]
    queries = {}
    for name, (table, _, _) in ALIVE_TABLES.items():
        queries[(name, "page of 50")] = (
            f"SELECT id, title, created FROM {table} WHERE owner = %s"
            " AND deleted_at IS NULL ORDER BY created DESC LIMIT 50"
        )
        queries[(name, "count")] = (
            f"SELECT count(*) FROM {table} WHERE owner = %s AND deleted_at IS NULL"
        )
    times = {key: [] for key in queries}
    with connection.cursor() as cursor:
        for owner in range(OWNERS):  # warm every table and index once
            for sql in queries.values():
                cursor.execute(sql, [owner])
                cursor.fetchall()
        for owner in owners:  # interleaved, so drift on the machine hits all alike
            for key, sql in queries.items():
                start = time.perf_counter()
                cursor.execute(sql, [owner])
                cursor.fetchall()
                times[key].append(time.perf_counter() - start)
    results = {key: statistics.median(values) for key, values in times.items()}
    print(f"\nalive-row queries, {total} rows, 90 % deleted, {OWNERS} owners, {samples} samples")
    print(f"{'table':30} {'query':11} {'ms':>8} {'vs alive-only':>14}")
    for (name, label), seconds in results.items():
        base = results[("alive rows only", label)]
        print(f"{name:30} {label:11} {seconds * 1e3:8.3f} {seconds / base:14.2f}")
    with connection.cursor() as cursor:
        for table, _, _ in ALIVE_TABLES.values():
            cursor.execute(f"DROP TABLE {table}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--samples", type=int, default=2000)
    args = parser.parse_args()
    cascade(args.sizes, args.rounds)
    alive_queries(args.rows, args.samples)


if __name__ == "__main__":
    main()
