"""What optimistic locking costs per save, as ratios against a plain model in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    pip install -e ".[dev,bench]"       # bench brings django-concurrency
    python benchmarks/bench_locking.py [--n 10000] [--rounds 3]

Each model: ``--n`` rows, then every row loaded and saved once (one transaction per save,
as in autocommit); median of the rounds, with the models interleaved per round.
"""

import argparse
import statistics
import time

from _setup import setup

setup()

from django.db import connection  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402

MODELS = {"plain model": bench.PlainRow, "django_prodpatterns VersionedModel": bench.VersionedRow}
if bench.IntegerVersionField is not None:
    MODELS["django-concurrency IntegerVersionField"] = bench.ConcurrencyRow


def saves(model, n):
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {model._meta.db_table} RESTART IDENTITY")
    model.objects.bulk_create(model(name=f"n{i}") for i in range(n))
    rows = list(model.objects.all())
    start = time.perf_counter()
    for row in rows:
        row.value += 1
        row.save()
    return time.perf_counter() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    times = {name: [] for name in MODELS}
    for _ in range(args.rounds):
        for name, model in MODELS.items():
            times[name].append(saves(model, args.n))
    base = statistics.median(times["plain model"])
    print(f"\n{args.n} single-row saves, median of {args.rounds} rounds")
    print(f"{'model':42} {'seconds':>8} {'us/save':>8} {'vs plain':>9}")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:42} {median:8.3f} {median / args.n * 1e6:8.1f} {median / base:9.2f}")


if __name__ == "__main__":
    main()
