"""Inserting many rows: copy_insert against bulk_create and a save() loop, in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    python benchmarks/bench_bulk.py [--rows 100000] [--save-rows 5000]

As the application role, inside a tenant's context, into two tables of the same shape:
one with row level security and audit triggers (``TenantModel`` + ``AuditedModel``), one
with neither. The save() loop inserts ``--save-rows`` rows, one transaction each (its rate
is what counts); the others insert ``--rows``. Rows per second, and each method against
``bulk_create`` (batch 1,000) on the same table.
"""

import argparse
import time

from _setup import setup

setup()

from django.db import connections  # noqa: E402

from benchmarks.benchapp.models import BulkPlainRow, BulkTenantRow  # noqa: E402
from django_prodpatterns.bulk import copy_insert  # noqa: E402
from django_prodpatterns.context import tenant_context  # noqa: E402
from django_prodpatterns.models import Tenant  # noqa: E402

APP = "app"


def reset(model):
    with connections["default"].cursor() as cursor:
        cursor.execute(f"TRUNCATE {model._meta.db_table}")


def timed(model, action, n):
    reset(model)
    start = time.perf_counter()
    action(n)
    elapsed = time.perf_counter() - start
    assert model._base_manager.using(APP).count() == n
    return n / elapsed


def methods(model, tenant):
    extra = {} if model is BulkTenantRow else {"tenant_id": tenant.pk}

    def instances(n):
        return [model(name=f"row {i}", value=i, **extra) for i in range(n)]

    def copy(n):
        copy_insert(model, ({"name": f"row {i}", "value": i, **extra} for i in range(n)), using=APP)

    def bulk(batch):
        return lambda n: model.objects.using(APP).bulk_create(instances(n), batch_size=batch)

    def save_loop(n):
        for obj in instances(n):
            obj.save(using=APP)

    return {
        "copy_insert": copy,
        "bulk_create (batch 1000)": bulk(1000),
        "bulk_create (batch 5000)": bulk(5000),
        "save() loop": save_loop,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--save-rows", type=int, default=5_000)
    args = parser.parse_args()
    tenant, _ = Tenant.objects.get_or_create(slug="bench-bulk", defaults={"name": "bench"})
    print(f"\n{args.rows} rows ({args.save_rows} for the save() loop), rows per second")
    print(f"{'method':26} {'table':22} {'rows/s':>10} {'vs bulk_create 1000':>20}")
    with tenant_context(tenant):
        for model, label in ((BulkTenantRow, "RLS + audit on"), (BulkPlainRow, "RLS + audit off")):
            rates = {}
            for name, action in methods(model, tenant).items():
                n = args.save_rows if name == "save() loop" else args.rows
                rates[name] = timed(model, action, n)
            base = rates["bulk_create (batch 1000)"]
            for name, rate in rates.items():
                print(f"{name:26} {label:22} {rate:10.0f} {rate / base:20.2f}")
            reset(model)


if __name__ == "__main__":
    main()
