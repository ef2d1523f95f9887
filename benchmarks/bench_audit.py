"""What the audit trail costs per write, as ratios against the plain model in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    pip install -e ".[dev,bench]"       # bench brings django-simple-history, django-auditlog
    python benchmarks/bench_audit.py [--n 10000]

Single-row create, update and delete (``--n`` of each, one transaction per write as in
autocommit), and one ``QuerySet.update()`` of ``--n`` rows, for: a plain model, an
``AuditedModel`` (triggers), and the peers where installed (they record nothing for
``QuerySet.update()``: their row is marked "not audited").
"""

import argparse
import time

from _setup import setup

setup()

from django.db import connection  # noqa: E402

from benchmarks.benchapp import models as bench  # noqa: E402
from django_prodpatterns.context import audit_context  # noqa: E402

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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    args = parser.parse_args()
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
