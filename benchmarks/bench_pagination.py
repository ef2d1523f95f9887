"""Keyset pages against OFFSET pages at growing depth, in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    python benchmarks/bench_pagination.py [--rows 1000000] [--per-page 50] [--samples 15]

A table of ``--rows`` rows with an index on (rank, id), ordered by (rank, id) with many
equal ranks. At each depth, the time to fetch one page: OFFSET (``qs[depth:depth+50]``)
and ``KeysetPaginator.page(cursor)`` with the cursor of the row before that depth (one
query each). Medians of ``--samples``.
"""

import argparse
import statistics
import time

from _setup import setup

setup()

from django.db import connections  # noqa: E402

from benchmarks.benchapp.models import PageRow  # noqa: E402
from django_prodpatterns.pagination import FORWARD, KeysetPaginator  # noqa: E402

DEPTHS = (0, 10_000, 100_000, 500_000, 990_000)


def build(rows):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT count(*) FROM benchapp_pagerow")
        if cursor.fetchone()[0] == rows:
            return
        cursor.execute("TRUNCATE benchapp_pagerow RESTART IDENTITY")
        cursor.execute(
            "INSERT INTO benchapp_pagerow (rank, title)"
            " SELECT (g::bigint * 7919) %% (%s / 10), 'row ' || g FROM generate_series(1, %s) g",
            [rows, rows],
        )
        cursor.execute("VACUUM ANALYZE benchapp_pagerow")


def median_time(action, samples):
    times = []
    for _ in range(samples):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--per-page", type=int, default=50)
    parser.add_argument("--samples", type=int, default=15)
    args = parser.parse_args()
    build(args.rows)
    queryset = PageRow.objects.using("app").order_by("rank", "id")
    paginator = KeysetPaginator(queryset, per_page=args.per_page)
    print(f"\n{args.rows} rows, pages of {args.per_page}, median of {args.samples} (ms)")
    print(f"{'depth':>8} {'OFFSET':>9} {'keyset':>9} {'OFFSET/keyset':>14} {'keyset/first':>13}")
    first = None
    for depth in DEPTHS:
        n = args.per_page

        def offset_page(depth=depth, n=n):
            return list(queryset[depth : depth + n])

        if depth:
            before = queryset[depth - 1 : depth].get()
            cursor = paginator._encode(paginator._values(before), FORWARD)
        else:
            cursor = None

        def keyset_page(cursor=cursor, n=n):
            page = paginator.page(cursor)
            assert len(page) == n
            return page

        assert [r.pk for r in keyset_page()] == [r.pk for r in offset_page()]
        offset = median_time(offset_page, args.samples)
        keyset = median_time(keyset_page, args.samples)
        first = first or keyset
        print(
            f"{depth:>8} {offset * 1e3:9.2f} {keyset * 1e3:9.2f} {offset / keyset:14.1f}"
            f" {keyset / first:13.2f}"
        )


if __name__ == "__main__":
    main()
