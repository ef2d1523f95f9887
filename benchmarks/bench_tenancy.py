"""What row level security and TenantMiddleware cost, as ratios in one run.

Run from the top of the checkout (embedded PostgreSQL unless DATABASE_URL is set)::

    python benchmarks/bench_tenancy.py [--rows 1000000] [--tenants 1000] [--samples 3000]

1. Queries on ``--rows`` rows spread over ``--tenants`` tenants, as the application role:
   an indexed lookup and a page of 50 newest rows, (a) with only an explicit
   ``WHERE tenant_id = %s`` on a table without RLS, (b) on the same table with the app's
   policy (ENABLE + FORCE + ``tenant_id = (SELECT prodpatterns_tenant_id())``), the signed
   context arriving through the context channel and verified once per statement, (c) the
   ORM's way: policy plus the explicit filter, and (d) the policy as it was before the
   signed context (``tenant_id = current_setting(...)``, the raw tenant id sent by a
   ``SET LOCAL`` prefix, nothing verified). Per statement means a statement after the
   first of its context: in autocommit (each statement its own transaction, the context
   sent with each) and inside a transaction (as under TenantMiddleware, the context
   already in force). The first statement of a new context, where the database verifies
   the HMAC once and remembers the value, is shown on its own line. Medians; scenarios
   interleaved per sample. The last column is what the signed context costs over (d).
2. The per-request cost of TenantMiddleware around a view that runs one query.
"""

import argparse
import random
import statistics
import time
from contextlib import ExitStack, contextmanager

from _setup import setup

setup()

from django.contrib.auth.models import AnonymousUser  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.http import HttpResponse  # noqa: E402
from django.test import RequestFactory, override_settings  # noqa: E402

from django_prodpatterns.context import audit_context, tenant_context  # noqa: E402
from django_prodpatterns.db import session  # noqa: E402
from django_prodpatterns.db.constraints import current_tenant_sql  # noqa: E402
from django_prodpatterns.middleware import TenantMiddleware  # noqa: E402

TABLES = ("bench_tenant_plain", "bench_tenant_rls", "bench_tenant_raw")
# The policy before the signed context: the raw setting, which any statement could set.
RAW_TENANT = "nullif(current_setting('prodpatterns.tenant_id', true), '')::bigint"


def build(rows, tenants):
    with connections["default"].cursor() as cursor:  # the owner role
        for table in TABLES:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(
                f"CREATE TABLE {table} (id bigint PRIMARY KEY, tenant_id bigint NOT NULL,"
                " name text NOT NULL, created timestamptz NOT NULL)"
            )
            cursor.execute(
                f"INSERT INTO {table} SELECT g, g %% %s, 'name ' || g,"
                " now() - g * interval '1 second' FROM generate_series(1, %s) g",
                [tenants, rows],
            )
            cursor.execute(f"CREATE INDEX ON {table} (tenant_id, name)")
            cursor.execute(f"CREATE INDEX ON {table} (tenant_id, created DESC)")
        for table, tenant_sql in (
            ("bench_tenant_rls", current_tenant_sql("bigint")),
            ("bench_tenant_raw", RAW_TENANT),
        ):
            condition = f"tenant_id = {tenant_sql}"
            cursor.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
            cursor.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
            cursor.execute(
                f"CREATE POLICY {table}_tenant ON {table} USING ({condition})"
                f" WITH CHECK ({condition})"
            )
        for table in TABLES:
            cursor.execute(f"VACUUM ANALYZE {table}")


LOOKUP = "SELECT id, name FROM {table} WHERE {where}name = %s"
PAGE = "SELECT id, name, created FROM {table} WHERE {where}true ORDER BY created DESC LIMIT 50"


def queries(rows, tenants, samples):
    rng = random.Random(7)
    picks = []
    for _ in range(samples):
        row = rng.randrange(1, rows + 1)
        picks.append((row % tenants, f"name {row}"))
    # (table, explicit tenant filter, context: signed / raw / none, when: "first" statement
    # of its context in autocommit, a "later" one in autocommit, a later one "in a tx")
    plain, signed, raw = "bench_tenant_plain", "bench_tenant_rls", "bench_tenant_raw"
    explicit = "tenant_id = %s AND "
    scenarios = {
        "explicit WHERE, no RLS": (plain, explicit, None, "later"),
        "RLS signed, autocommit": (signed, "", "signed", "later"),
        "RLS unsigned (before)": (raw, "", "raw", "later"),
        "RLS + explicit WHERE (ORM)": (signed, explicit, "signed", "later"),
        "RLS signed, new context": (signed, "", "signed", "first"),
        "explicit WHERE, in a transaction": (plain, explicit, None, "tx"),
        "RLS signed, in a transaction": (signed, "", "signed", "tx"),
        "RLS unsigned, in a transaction": (raw, "", "raw", "tx"),
    }
    results = {}
    with connections["app"].cursor() as cursor:
        for label, template in (("indexed lookup", LOOKUP), ("page of 50", PAGE)):
            times = {name: [] for name in scenarios}
            for sample, (tenant, name) in enumerate(picks[:200] + picks):  # 200: warm-up
                for scenario, (table, where, context, when) in scenarios.items():
                    sql = template.format(table=table, where=where)
                    params = ([tenant] if where else []) + ([name] if "%s" in template else [])
                    with ExitStack() as stack:
                        if context == "signed":
                            stack.enter_context(tenant_context(tenant))
                        if when == "first":  # a context no statement has carried yet
                            stack.enter_context(audit_context(reason=f"{label} {sample}"))
                        elif context == "raw":  # the channel as it was: the raw tenant id
                            stack.enter_context(raw_channel(tenant))
                        if when == "tx":  # as under TenantMiddleware
                            stack.enter_context(transaction.atomic(using="app"))
                        if when != "first":
                            cursor.execute(sql, params)
                            cursor.fetchall()
                        start = time.perf_counter()
                        cursor.execute(sql, params)
                        found = cursor.fetchall()
                        times[scenario].append(time.perf_counter() - start)
                    assert found or template is LOOKUP
            for scenario, values in times.items():
                results[(label, scenario)] = statistics.median(values[200:])
    print(f"\n{rows} rows over {tenants} tenants, {samples} samples, application role")
    print(f"{'query':15} {'scenario':32} {'ms':>8} {'vs explicit':>12} {'signed - raw':>13}")
    for (label, scenario), seconds in results.items():
        in_tx = "transaction" in scenario
        base = results[(label, "explicit WHERE, " + ("in a transaction" if in_tx else "no RLS"))]
        extra = ""
        if scenario.startswith("RLS signed"):
            unsigned = results[
                (label, f"RLS unsigned{', in a transaction' if in_tx else ' (before)'}")
            ]
            extra = f"{(seconds - unsigned) * 1e6:+10.1f} us"
        print(f"{label:15} {scenario:32} {seconds * 1e3:8.3f} {seconds / base:12.2f} {extra:>13}")
    with connections["default"].cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"DROP TABLE {table}")


@contextmanager
def raw_channel(tenant):
    """The context channel as it was before the signed context: ``SET LOCAL`` of the raw
    tenant id with every statement in autocommit, once per transaction otherwise."""
    connection = connections["app"]
    sent = []

    def prefix(execute, sql, params, many, context):
        if connection.in_atomic_block and sent:
            return execute(sql, params, many, context)
        sent.append(True)
        result = execute(
            f"SET LOCAL prodpatterns.tenant_id = '{tenant}'; " + sql, params, many, context
        )
        context["cursor"].cursor.nextset()
        return result

    index = connection.execute_wrappers.index(session.apply_context)
    connection.execute_wrappers[index] = prefix
    try:
        yield
    finally:
        connection.execute_wrappers[index] = session.apply_context


class Member:
    def __init__(self, tenant):
        self.tenant = tenant


class User:
    is_authenticated = True

    def __init__(self, tenant):
        self.member = Member(tenant)


def view(request):
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok")


def middleware(samples):
    factory = RequestFactory()
    wrapped = TenantMiddleware(view)
    cases = {
        "view alone": (view, AnonymousUser()),
        "TenantMiddleware, no tenant": (wrapped, AnonymousUser()),
        "TenantMiddleware, tenant 42": (wrapped, User(42)),
    }
    times = {name: [] for name in cases}
    with override_settings(PRODPATTERNS={"TENANT_USER_ATTRIBUTE": "member.tenant"}):
        for i in range(samples + 200):
            for name, (handler, user) in cases.items():
                request = factory.get("/")
                request.user = user
                start = time.perf_counter()
                handler(request)
                if i >= 200:
                    times[name].append(time.perf_counter() - start)
    print(f"\nper request, {samples} samples (view runs one query)")
    base = statistics.median(times["view alone"])
    for name, values in times.items():
        median = statistics.median(values)
        extra = (median - base) * 1e6
        print(f"{name:32} {median * 1e6:8.1f} us  {median / base:6.2f}  (+{extra:.1f} us)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--samples", type=int, default=3000)
    args = parser.parse_args()
    build(args.rows, args.tenants)
    queries(args.rows, args.tenants, args.samples)
    middleware(args.samples)


if __name__ == "__main__":
    main()
