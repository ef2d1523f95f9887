"""What the audit trail costs per write, as ratios against the plain model in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    pip install -e ".[dev,bench]"       # bench brings django-simple-history, django-auditlog
    python benchmarks/bench_audit.py [--n 10000]

Single-row create, update and delete (``--n`` of each, one transaction per write as in
autocommit), and one ``QuerySet.update()`` of ``--n`` rows, for: a plain model, an
``AuditedModel`` (triggers), and the peers where installed (they record nothing for
``QuerySet.update()``: their row is marked "not audited").

``--backfill N`` times a data migration's backfill instead, as the owner: N rows created
and then updated in one transaction (through the ORM, and in SQL), for the plain model,
the ``AuditedModel`` as usual (an entry per row and write), and the ``AuditedModel``
inside ``audit_backfill()`` (one entry).

``--functions FILE FILE ...`` compares versions of the trigger function instead (for example
``audit_function_v4.sql audit_function_v5.sql``): each round installs each version in turn
in the one database and times, on the ``AuditedModel``, ``--n`` single-row creates and
updates and one ``QuerySet.update()`` of ``--n`` rows, beside the plain model, over
``--rounds`` rounds (best and median). The current version is installed again at the end.
"""

import argparse
import statistics
import time

from _setup import setup

setup()

from contextlib import nullcontext  # noqa: E402

from django.db import connection, transaction  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402
from django_prodpatterns.backfill import audit_backfill  # noqa: E402
from django_prodpatterns.context import audit_context  # noqa: E402
from django_prodpatterns.db.audit import AUDIT_FUNCTION  # noqa: E402
from django_prodpatterns.db.versioned import in_schema, sql_file  # noqa: E402

MODELS = {
    "plain model": bench.PlainRow,
    "django_prodpatterns AuditedModel": bench.AuditedRow,
}
if bench.HistoricalRecords is not None:
    MODELS["django-simple-history"] = bench.SimpleHistoryRow
if bench.auditlog is not None:
    MODELS["django-auditlog"] = bench.AuditlogRow


def reset():
    tables = [m._meta.db_table for m in MODELS.values()]
    if bench.HistoricalRecords is not None:
        tables.append(bench.SimpleHistoryRow.history.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")


def timed(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def run(model, n):
    objs = []

    def create():
        for i in range(n):
            objs.append(model.objects.create(name=f"n{i}"))

    def update():
        for obj in objs:
            obj.value += 1
            obj.save()

    def bulk_update():
        model.objects.update(value=7)

    def delete():
        for obj in objs:
            obj.delete()

    results = {"create": timed(create), "update": timed(update)}
    results["QuerySet.update"] = timed(bulk_update)
    results["delete"] = timed(delete)
    return results


def audit_entries(model):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM prodpatterns_auditlog WHERE model = %s OR action = 'backfill'",
            [model._meta.label],
        )
        return cursor.fetchone()[0]


def backfill(n, rounds=5):
    """A backfill of ``n`` rows as a data migration writes it: one transaction, as the owner.

    Two ways of writing: through the ORM (``bulk_create`` in batches of 10,000, then one
    ``QuerySet.update()``) and in SQL (one ``INSERT ... SELECT`` of ``n`` rows, then one
    ``UPDATE``), each on empty tables (truncated before, the log included). The variants
    take turns in every round, so that a busy machine slows them alike; the best round
    counts.
    """
    variants = {
        "plain model": (bench.PlainRow, nullcontext),
        "AuditedModel, audited per row": (bench.AuditedRow, nullcontext),
        "AuditedModel, audit_backfill()": (
            bench.AuditedRow,
            lambda: audit_backfill(reason="benchmark backfill"),
        ),
    }

    def orm(model):
        model.objects.bulk_create((model(name=f"n{i}") for i in range(n)), batch_size=10_000)
        model.objects.update(value=7)

    def sql(model):
        table = connection.ops.quote_name(model._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (name, value)"
                " SELECT 'n' || i, 0 FROM generate_series(1, %s) AS i",
                [n],
            )
            cursor.execute(f"UPDATE {table} SET value = 7")

    ways = {"ORM: bulk_create + update": orm, "SQL: INSERT + UPDATE": sql}
    best = {}
    entries = {}
    for _ in range(rounds):
        for way, write in ways.items():
            for name, (model, switch) in variants.items():
                reset()
                with connection.cursor() as cursor:
                    cursor.execute("TRUNCATE prodpatterns_auditlog")

                def run(model=model, switch=switch, write=write):
                    with transaction.atomic(), switch():
                        write(model)

                seconds = timed(run)
                key = (way, name)
                best[key] = min(best.get(key, seconds), seconds)
                entries[key] = audit_entries(model)
    print(f"\nbackfill of {n} rows as the owner, one transaction each, best of {rounds}")
    print(f"{'writes':26} {'variant':32} {'seconds':>8} {'vs plain':>9} {'entries':>8}")
    for way in ways:
        base = best[(way, "plain model")]
        for name in variants:
            seconds = best[(way, name)]
            print(
                f"{way:26} {name:32} {seconds:8.3f} {seconds / base:9.2f} {entries[(way, name)]:8d}"
            )


def functions(files, n, rounds):
    """Versions of the trigger function, each installed in turn, on the same writes.

    Versions and the plain model take turns in every round, in the reverse order every
    other round, so that a busy machine slows them alike; the best and the median round
    of each are shown.
    """
    variants = {"plain model": (bench.PlainRow, None)}
    variants.update({name: (bench.AuditedRow, name) for name in files})
    samples = {}
    try:
        for round_ in range(rounds):
            names = list(variants)[:: -1 if round_ % 2 else 1]
            for name in names:
                model, file = variants[name]
                if file is not None:
                    with connection.cursor() as cursor:
                        cursor.execute(in_schema(sql_file(file), connection))
                reset()
                with connection.cursor() as cursor:
                    cursor.execute("TRUNCATE prodpatterns_auditlog")
                with audit_context(reason="benchmark", request_id="bench"):
                    results = run(model, n)
                for operation in ("create", "update", "QuerySet.update"):
                    samples.setdefault((name, operation), []).append(results[operation])
    finally:
        with connection.cursor() as cursor:
            cursor.execute(in_schema(sql_file(AUDIT_FUNCTION), connection))
    print(f"\n{n} writes of each kind on AuditedRow, per trigger function; {rounds} rounds")
    print(
        f"{'function':26} {'operation':16} {'best s':>8} {'µs/row':>8} {'vs plain':>9}"
        f" {'median s':>9} {'µs/row':>8} {'vs plain':>9}"
    )
    for name in variants:
        for operation in ("create", "update", "QuerySet.update"):
            figures = []
            for pick in (min, statistics.median):
                seconds = pick(samples[(name, operation)])
                ratio = seconds / pick(samples[("plain model", operation)])
                figures.append(f"{seconds:8.3f} {seconds / n * 1e6:8.1f} {ratio:9.2f}")
            print(f"{name:26} {operation:16} {figures[0]} {figures[1]:>28}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--backfill", type=int, metavar="N", help="time a backfill of N rows")
    parser.add_argument("--functions", nargs="+", metavar="FILE", help="compare these versions")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of --functions")
    args = parser.parse_args()
    if args.backfill:
        backfill(args.backfill)
        return
    if args.functions:
        functions(args.functions, args.n, args.rounds)
        return
    reset()
    table = {}
    with audit_context(reason="benchmark", request_id="bench"):
        for name, model in MODELS.items():
            table[name] = run(model, args.n)
    base = table["plain model"]
    print(f"\n{args.n} writes of each kind, one transaction per single-row write")
    print(f"{'model':34} {'operation':16} {'seconds':>8} {'vs plain':>9}")
    for name, results in table.items():
        for operation, seconds in results.items():
            note = ""
            if operation == "QuerySet.update" and name in (
                "django-simple-history",
                "django-auditlog",
            ):
                note = "  (records nothing)"
            print(f"{name:34} {operation:16} {seconds:8.3f} {seconds / base[operation]:9.2f}{note}")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM prodpatterns_auditlog WHERE model = %s",
            [bench.AuditedRow._meta.label],
        )
        print(f"\naudit entries written for AuditedRow: {cursor.fetchone()[0]}")


if __name__ == "__main__":
    main()
