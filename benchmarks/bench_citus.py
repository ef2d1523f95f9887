"""What Citus mode costs per query, and what a cluster does under load, as ratios in one run.

Run from the top of the checkout, with a running Citus cluster (see docs/scaling-out.md)::

    CITUS_URL=postgres://postgres@127.0.0.1:9700/postgres \\
        python benchmarks/bench_citus.py [--rows 200000] [--tenants 200] [--samples 1000] \\
        [--seconds 10] [--threads 8] [--port 9780]

``CITUS_URL`` (required) is the coordinator superuser's URL of a cluster with registered
workers. ``DATABASE_URL`` is the single PostgreSQL to compare with, as its superuser; it
defaults to ``postgres://postgres@127.0.0.1:5432/postgres`` (not the embedded server of the
other benchmarks: a server on 127.0.0.1 talks TCP like the cluster does, and on a Debian
machine with Citus it is the same PostgreSQL build). The script also starts a one-worker
cluster of its own in a new folder under /tmp (coordinator on ``--port``, the worker on
the port after it) and stops and removes it at the end. It creates a ``bench_citus``
database on every node of both clusters and on the single server, and drops them all at
the end.

Each database gets the app's migrations (the signed context's functions and key, in Citus
mode on the clusters, where the key also goes to every worker) and one table,
``bench_item (tenant_id, id, name, created)``, primary key ``(tenant_id, id)``, indexes on
``(tenant_id, name)`` and ``(tenant_id, created DESC)``, ``--rows`` rows spread over
``--tenants`` tenants, ENABLE + FORCE row level security with the app's tenant policy: on
the single server its plain form ``tenant_id = (SELECT prodpatterns_tenant_id())::bigint``,
on the clusters the form Citus accepts (no subquery), and there the table is distributed by
``tenant_id``. One more tenant, ``--tenants`` + 1, has 1,000 rows of its own (for the bulk
UPDATE of 3; no other scenario picks it). Every query runs as the application role,
through the context channel, with the tenant in its WHERE as the ORM writes it.

1. Latency of two queries: an indexed lookup (``WHERE tenant_id = %s AND name = %s``) and
   a page of the 50 newest rows (``WHERE tenant_id = %s ORDER BY created DESC LIMIT 50``):
   (0) a baseline, as the cross-tenant role (BYPASSRLS) on a Django connection without the
   context channel: what the server (the cluster) costs with neither row level security
   nor the channel; then as the application role through the channel, (a) in autocommit,
   the first statement of a new context (single server: the value is verified once and
   remembered; Citus: verified in full on the shard, as always), (b) in autocommit, a
   later statement of the same context (single server: one query string with a ``SET
   LOCAL`` prefix; Citus: ``BEGIN; SET LOCAL``, the statement, ``COMMIT``: three round
   trips), (c) inside ``transaction.atomic`` with the context already in force (as under
   TenantMiddleware). Medians of ``--samples``; targets and scenarios interleaved per
   sample; each timed statement follows an untimed one on its connection (for (a), in
   autocommit with the tenant alone: the new value adds audit details). Before
   that, EXPLAIN ANALYZE checks that each query finds rows and is a one-task (one shard)
   plan on Citus, and shows the plans.
2. Throughput: ``--threads`` clients, each its own connection, each running requests for
   random tenants for ``--seconds`` (in two rounds of half that, targets alternated): a
   request is ``transaction.atomic`` under ``tenant_context`` running one lookup and one
   page. Requests per second, the median and 95th percentile of a request's time, the
   CPU the client process used (in cores) and how busy the machine's CPUs were (from
   ``/proc/stat``), on the single server, the one-worker cluster and the ``CITUS_URL``
   cluster.
3. Audited writes, on the single server and the ``CITUS_URL`` cluster (not the one-worker
   cluster: a shorter run): ``bench_audited``, a copy of ``bench_item`` (columns, rows,
   indexes, policy; on Citus distributed colocated with it) with the app's capture
   triggers: statement level with transition tables on the single server
   (``AuditTriggers``, ``prodpatterns_audit()``), row level on the cluster
   (``CitusAuditTriggers``, ``prodpatterns_audit_row()``), where the audit log is first
   distributed beside the tables, as Citus mode does with its first tenant table
   (``prodpatterns_private.distribute_log()``). The same writes on both tables, each in
   ``transaction.atomic`` under ``tenant_context`` after an untimed read (as a request
   runs them): (a) an INSERT of one row, (b) an UPDATE of that row by key, (c) an UPDATE
   of the 1,000 rows of one tenant; each changes a column, so each row it touches writes
   an entry. Medians of ``--samples`` (of ``max(10, --samples // 50)`` for (c)); targets
   and tables interleaved per sample; the statement is timed, not the COMMIT. Before
   that, one write of each kind checks that on the audited table it leaves one entry per
   row, of the row's tenant (on Citus in that tenant's shard of the log), and on the plain
   table none; after it, that every measured audited write left its entries. The log
   grows by 2 entries per one-row sample and 1,000 per bulk one.

Everything runs on this one machine: clients, the single server and every node of both
clusters share its cores, so a cluster cannot show real scale-out here. What the figures
show is the per-statement price of Citus (a hop from coordinator to worker, the context
forwarded by ``SET LOCAL``, verified in full on the shard) and how the machine copes; more
workers on more machines add capacity this benchmark cannot see. The client threads share
one Python interpreter (the GIL), which limits the single server's throughput most.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import django  # noqa: E402
import environ  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402
from django.test import override_settings  # noqa: E402
from psycopg import sql as pgsql  # noqa: E402

from django_prodpatterns.context import audit_context, tenant_context  # noqa: E402
from django_prodpatterns.db import session  # noqa: E402
from django_prodpatterns.db.audit import (  # noqa: E402
    TRIGGER_SUFFIXES,
    AuditTriggers,
    CitusAuditTriggers,
)
from django_prodpatterns.db.versioned import (  # noqa: E402
    in_schema,
    required_statements,
    sql_file,
    template,
)
from django_prodpatterns.devserver import citus  # noqa: E402
from django_prodpatterns.devserver.embedded import (  # noqa: E402
    LocalDatabases,
    connect,
    local_databases,
    prepare,
)
from django_prodpatterns.ops.roles import (  # noqa: E402
    APP_ROLE,
    AUDIT_LOG,
    CROSS_TENANT_ROLE,
    grant_app_privileges,
)

NAME = "bench_citus"
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/postgres"
WARM_UP = 100  # samples run and thrown away before the measured ones
ROUNDS = 2  # throughput: each target runs --seconds / ROUNDS per round

LOOKUP = "SELECT id, name FROM bench_item WHERE tenant_id = %s AND name = %s"
PAGE = (
    "SELECT id, name, created FROM bench_item WHERE tenant_id = %s ORDER BY created DESC LIMIT 50"
)
QUERIES = {"indexed lookup": LOOKUP, "page of 50": PAGE}
WHEN = {
    "bare": "baseline: BYPASSRLS role, no channel",
    "new": "autocommit, new context",
    "later": "autocommit",
    "tx": "in a transaction",
}

# 3. audited writes: bench_item (no capture) against its audited copy.
PLAIN = "bench_item"
AUDITED = "bench_audited"
AUDIT_LABEL = "bench.Audited"  # the model label its entries carry
BATCH = 1_000  # rows of the bulk UPDATE: all the rows of a tenant of their own
BATCH_WARM_UP = 2  # bulk UPDATEs run and thrown away before the measured ones
# {table} is PLAIN or AUDITED. Each write really changes a column: an UPDATE that changes
# nothing writes no entry.
WRITES = {
    "insert": "INSERT INTO {table} (tenant_id, id, name, created) VALUES (%s, %s, %s, now())",
    "update": "UPDATE {table} SET name = %s WHERE tenant_id = %s AND id = %s",
    "batch": (
        "UPDATE {table} SET name = 'batch ' || id || ' v' || %s"
        " WHERE tenant_id = %s AND id BETWEEN %s AND %s"
    ),
}
WRITE_LABELS = {
    "insert": "INSERT of one row",
    "update": "UPDATE of one row by key",
    "batch": f"UPDATE of {BATCH} rows of one tenant",
}


@dataclass
class Target:
    """One database under test: its label, mode, and the Django aliases of its roles."""

    label: str
    citus: bool
    alias: str  # the application role
    owner: str  # the owner role (migrations, tables)
    admin: dict[str, Any]  # the server's (coordinator's) superuser, database "postgres"
    local: LocalDatabases | None = None  # once its database exists

    @property
    def bare(self) -> str:
        """The alias of the cross-tenant role (BYPASSRLS), used without the channel."""
        return self.alias + "_bare"

    @property
    def databases(self) -> LocalDatabases:
        assert self.local is not None, "create_databases() first"
        return self.local


@contextmanager
def mode(target: Target):
    """The app's mode for ``target``: the channel reads it with every statement."""
    with override_settings(PRODPATTERNS={"CITUS": target.citus}):
        yield


# --- set-up ------------------------------------------------------------------------------


def configure(targets: list[Target]) -> None:
    databases = {}
    for target in targets:
        databases[target.owner] = target.databases.owner
        databases[target.alias] = target.databases.app
        databases[target.bare] = target.databases.cross_tenant
    databases["default"] = databases[targets[0].owner]  # Django wants one; never used
    settings.configure(
        DATABASES=databases,
        INSTALLED_APPS=["django_prodpatterns"],
        SECRET_KEY="bench-citus-not-secret",
        USE_TZ=True,
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
        PRODPATTERNS={},
    )
    django.setup()


def policy_condition(target: Target) -> str:
    """The app's tenant policy for the table: no subquery on Citus (it refuses one)."""
    if target.citus:
        return "tenant_id = prodpatterns_tenant_id()::bigint"
    return "tenant_id = (SELECT prodpatterns_tenant_id())::bigint"


def build(target: Target, rows: int, tenants: int, audited: bool) -> None:
    """Migrate the app (signed context functions and key), create and fill the table; with
    ``audited`` also its audited copy, with the capture triggers of the mode (and, on
    Citus, the audit log laid out beside the tables first, as Citus mode does)."""
    with mode(target):
        call_command("migrate", "prodpatterns", database=target.owner, verbosity=0)
    connections[target.owner].close()
    tables = [PLAIN, AUDITED] if audited else [PLAIN]
    with connect(target.databases.owner, autocommit=True) as conn:
        for table in tables:
            create_table(conn, target, table, rows, tenants)
        if audited:
            with mode(target):
                if target.citus:
                    distribute_log(conn, target)
                statements = capture_statements(target)
            connections[target.owner].close()
            # One transaction: the Citus template's settings are transaction-local.
            with conn.transaction():
                for statement in statements:
                    conn.execute(statement)
        for role in (APP_ROLE, CROSS_TENANT_ROLE):
            grant_app_privileges(conn, role.name)
        for table in tables:
            conn.execute(f"VACUUM ANALYZE {table}")


def create_table(conn: Any, target: Target, table: str, rows: int, tenants: int) -> None:
    """``table (tenant_id, id, name, created)`` with its rows, indexes and tenant policy; on
    Citus distributed by ``tenant_id``, colocated with bench_item. Tenant ``tenants + 1``
    has ``BATCH`` rows of its own, keys ``rows + 1`` to ``rows + BATCH``: what the bulk
    UPDATE of scenario 3 rewrites, a tenant no other scenario picks."""
    condition = policy_condition(target)
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TABLE {table} (tenant_id bigint NOT NULL, id bigint NOT NULL,"
        " name text NOT NULL, created timestamptz NOT NULL, PRIMARY KEY (tenant_id, id))"
    )
    if target.citus:
        colocate = "default" if table == PLAIN else PLAIN
        conn.execute(
            f"SELECT create_distributed_table('{table}', 'tenant_id',"
            f" colocate_with => '{colocate}')"
        )
    # Rows before row level security (Citus moves INSERT ... SELECT with COPY, which it
    # refuses on a table with RLS) and before capture triggers (no entries for them).
    conn.execute(
        f"INSERT INTO {table} SELECT 1 + g %% %s, g, 'name ' || g,"
        " now() - g * interval '1 second' FROM generate_series(1, %s) g",
        [tenants, rows],
    )
    conn.execute(
        f"INSERT INTO {table} SELECT %s::bigint, g, 'batch ' || g,"
        " now() - g * interval '1 second' FROM generate_series(%s::bigint, %s::bigint) g",
        [tenants + 1, rows + 1, rows + BATCH],
    )
    conn.execute(f"CREATE INDEX ON {table} (tenant_id, name)")
    conn.execute(f"CREATE INDEX ON {table} (tenant_id, created DESC)")
    conn.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    conn.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    conn.execute(
        f"CREATE POLICY {table}_tenant ON {table} USING ({condition}) WITH CHECK ({condition})"
    )


def distribute_log(conn: Any, target: Target) -> None:
    """The audit log distributed beside the tables, as the first tenant table's layout does
    in Citus mode (``prodpatterns_private.distribute()``): a row trigger on a shard may
    write only into the log's shard of the same tenant on the same node. The app's
    migrations install the layout functions only for a model that needs them, and the
    bench distributes its tables itself: the functions are installed here and the log is
    laid out by ``distribute_log()``, whose "tenant table" argument is read only for the
    type of its key's first column: bench_item's ``tenant_id``, the tenant key's type (the
    bench has no tenant table)."""
    conn.execute(in_schema(sql_file("citus_functions_v1.sql"), connections[target.owner]))
    conn.execute(
        "SELECT prodpatterns_private.distribute_log(%s::regclass, %s::regclass, %s::regclass)",
        [AUDIT_LOG, PLAIN, PLAIN],
    )
    groups = conn.execute(
        "SELECT count(DISTINCT colocationid), count(*) FROM pg_dist_partition"
        " WHERE logicalrelid IN (%s::regclass, %s::regclass, %s::regclass)",
        [AUDIT_LOG, PLAIN, AUDITED],
    ).fetchone()
    if groups != (1, 3):
        raise RuntimeError(f"{target.label}: the log is not colocated with the tables: {groups}")


def capture_statements(target: Target) -> list[str]:
    """The audited table's capture triggers as the app's migration creates them for a model
    (what the template's ``requires`` names, created when missing, then ``create``):
    statement level with transition tables on one server (AuditTriggers), row level on
    Citus (CitusAuditTriggers). No column redacted or ignored."""
    kind = CitusAuditTriggers if target.citus else AuditTriggers
    triggers = template(kind.kind, kind.current_version)
    arguments = [AUDIT_LABEL, "id", "tenant_id", "[]", "[]"]  # label, key, tenant, ...
    values = {
        "table": AUDITED,
        "arguments": ", ".join(pgsql.Literal(value).as_string(None) for value in arguments),
        **{f"name{suffix}": f"{AUDITED}_audit{suffix}" for suffix in TRIGGER_SUFFIXES},
    }
    return [
        *required_statements(triggers.files("requires"), connections[target.owner]),
        *triggers.statements("create", values),
    ]


def create_databases(targets: list[Target]) -> None:
    """A fresh ``bench_citus`` on each server (on every node of a cluster)."""
    for target in targets:
        target.local = local_databases(target.admin, NAME)  # dropped at the end from here on
        if target.citus:
            citus.create_database(target.admin, NAME)
        else:
            drop_single(target.admin)
            prepare(target.admin, NAME)


def drop_single(admin: dict[str, Any]) -> None:
    with connect(admin, autocommit=True) as conn:
        conn.execute(
            pgsql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(pgsql.Identifier(NAME))
        )


def server_notes(target: Target) -> str:
    """What may make servers differ, one line: version and the settings that matter."""
    with connect(target.databases.admin, autocommit=True) as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]
        rows = conn.execute(
            "SELECT name, setting FROM pg_settings WHERE name IN"
            " ('shared_buffers', 'fsync', 'synchronous_commit', 'jit') ORDER BY name"
        ).fetchall()
        line = f"PostgreSQL {version.split()[0]}, " + ", ".join(f"{n}={v}" for n, v in rows)
        if target.citus:
            citus_version = conn.execute(
                "SELECT extversion FROM pg_extension WHERE extname = 'citus'"
            ).fetchone()[0]
            shards = conn.execute(
                "SELECT count(*), count(DISTINCT nodeport) FROM citus_shards"
                " WHERE table_name = 'bench_item'::regclass"
            ).fetchone()
            line += f", Citus {citus_version}, {shards[0]} shards on {shards[1]} worker(s)"
    return line


# --- 1. latency --------------------------------------------------------------------------


def explain(target: Target, sql: str, params: list[object], tenant: int) -> str:
    with mode(target), tenant_context(tenant), connections[target.alias].cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def check_plans(targets: list[Target], picks: list[tuple[int, str]]) -> None:
    """EXPLAIN ANALYZE each query on each target: rows found (the context reached the
    table), one task on Citus (routed to one shard). Prints the plans of the single server
    and of the last cluster."""
    tenant, name = picks[0]
    print(f"\n### Plans (EXPLAIN ANALYZE as the application role, tenant {tenant})\n")
    tasks = []
    for target in targets:
        for label, sql in QUERIES.items():
            params = [tenant, name] if sql is LOOKUP else [tenant]
            plan = explain(target, sql, params, tenant)
            found = re.search(r"\(actual rows=(\d+)", plan)
            assert found and int(found.group(1)) > 0, f"{target.label}, {label}: none:\n{plan}"
            if target.citus:
                counts = re.findall(r"Task Count: \d+", plan)
                assert counts == ["Task Count: 1"], f"{target.label}, {label}:\n{plan}"
                tasks.append(f"{target.label}, {label}: {counts[0]}")
            if target is targets[0] or target is targets[-1]:
                print(f"{target.label}, {label}:\n\n```\n{plan}\n```\n")
    print("Routed to one shard: " + "; ".join(tasks) + ".")


def bare_cursor(target: Target) -> Any:
    """A Django cursor of the cross-tenant role (BYPASSRLS) without the context channel:
    what the query costs on that server with neither row level security nor the channel."""
    connection = connections[target.bare]
    connection.ensure_connection()
    if session.apply_context in connection.execute_wrappers:
        connection.execute_wrappers.remove(session.apply_context)
    return connection.cursor()


def run_once(cursor: Any, sql: str, params: list[object]) -> float:
    start = time.perf_counter()
    cursor.execute(sql, params)
    found = cursor.fetchall()
    elapsed = time.perf_counter() - start
    assert found or sql is LOOKUP, "no rows: the context did not reach the table"
    return elapsed


def latency(targets: list[Target], picks: list[tuple[int, str]]) -> None:
    times = {
        (target.label, query, when): [] for target in targets for query in QUERIES for when in WHEN
    }
    for sample, (tenant, name) in enumerate(picks):
        for target in targets:
            with (
                mode(target),
                connections[target.alias].cursor() as cursor,
                bare_cursor(target) as bare,
            ):
                for query, sql in QUERIES.items():
                    params: list[object] = [tenant, name] if sql is LOOKUP else [tenant]
                    for when in WHEN:
                        if when == "bare":
                            run_once(bare, sql, params)
                            elapsed = run_once(bare, sql, params)
                            if sample >= WARM_UP:
                                times[(target.label, query, when)].append(elapsed)
                            continue
                        with ExitStack() as stack:
                            stack.enter_context(tenant_context(tenant))
                            run_once(cursor, sql, params)  # untimed: the connection is warm
                            if when == "new":  # a value no statement has carried yet
                                reason = f"{query} {sample}"
                                stack.enter_context(audit_context(reason=reason))
                            if when == "tx":  # as under TenantMiddleware, context in force
                                stack.enter_context(transaction.atomic(using=target.alias))
                                run_once(cursor, sql, params)
                            elapsed = run_once(cursor, sql, params)
                        if sample >= WARM_UP:
                            times[(target.label, query, when)].append(elapsed)
    single = targets[0]
    clusters = targets[1:]
    head = " | ".join(f"{t.label} µs" for t in targets)
    ratios = " | ".join(f"{t.label} / single" for t in clusters)
    last = targets[-1]
    print(f"| query | statement | {head} | {ratios} | {last.label} - single µs |")
    print("|" + "---|" * (3 + len(targets) + len(clusters)))
    for query in QUERIES:
        for when, when_label in WHEN.items():
            medians = {t.label: statistics.median(times[(t.label, query, when)]) for t in targets}
            cells = " | ".join(f"{medians[t.label] * 1e6:.0f}" for t in targets)
            base = medians[single.label]
            ratio = " | ".join(f"{medians[t.label] / base:.2f}" for t in clusters)
            extra = (medians[last.label] - base) * 1e6
            print(f"| {query} | {when_label} | {cells} | {ratio} | {extra:+.0f} |")


# --- 2. throughput -----------------------------------------------------------------------


@dataclass
class Load:
    """What the clients did on one target: requests, wall seconds, each request's time,
    and the CPU seconds the client process and the whole machine used meanwhile."""

    requests: int = 0
    seconds: float = 0.0
    durations: list[float] = field(default_factory=list)
    client_cpu: float = 0.0
    machine_cpu: float | None = 0.0

    def add(self, other: Load) -> None:
        self.requests += other.requests
        self.seconds += other.seconds
        self.durations.extend(other.durations)
        self.client_cpu += other.client_cpu
        if self.machine_cpu is None or other.machine_cpu is None:
            self.machine_cpu = None
        else:
            self.machine_cpu += other.machine_cpu


def machine_busy() -> float | None:
    """CPU seconds the machine has been busy since boot, all cores (None: not Linux)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(n) for n in stat.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def client(
    target: Target, args: argparse.Namespace, seconds: float, seed: int, shared: dict[str, Any]
) -> None:
    """One client: its own connection (Django's are per thread), requests until time's up."""
    rng = random.Random(seed)
    alias = target.alias
    durations: list[float] = []

    def request() -> None:
        row = rng.randrange(1, args.rows + 1)
        tenant = 1 + row % args.tenants
        with (
            tenant_context(tenant),
            transaction.atomic(using=alias),
            connections[alias].cursor() as cursor,
        ):
            cursor.execute(LOOKUP, [tenant, f"name {row}"])
            assert cursor.fetchall()
            cursor.execute(PAGE, [tenant])
            assert cursor.fetchall()

    try:
        for _ in range(5):  # connect, bind, open the coordinator's connections to workers
            request()
        shared["barrier"].wait()
        start = now = time.perf_counter()
        while now < start + seconds:
            request()
            done = time.perf_counter()
            durations.append(done - now)
            now = done
        shared["durations"].extend(durations)
    except BaseException as error:
        shared["errors"].append(error)
        shared["barrier"].abort()
    finally:
        connections[alias].close()


def run_clients(target: Target, args: argparse.Namespace, seconds: float, round_: int) -> Load:
    """``--threads`` clients on ``target`` at once, for ``seconds`` after they all connected."""
    shared: dict[str, Any] = {
        "barrier": threading.Barrier(args.threads + 1),  # and this thread: starts the clock
        "durations": [],
        "errors": [],
    }
    threads = [
        threading.Thread(target=client, args=(target, args, seconds, 1000 * round_ + n, shared))
        for n in range(args.threads)
    ]
    with mode(target):
        for thread in threads:
            thread.start()
        with suppress(threading.BrokenBarrierError):  # a client failed: raised below
            shared["barrier"].wait()
        start, cpu, busy = time.perf_counter(), time.process_time(), machine_busy()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - start
        client_cpu = time.process_time() - cpu
        busy_after = machine_busy()
    if shared["errors"]:
        raise shared["errors"][0]
    machine_cpu = None if busy is None or busy_after is None else busy_after - busy
    durations = shared["durations"]
    return Load(len(durations), wall, durations, client_cpu, machine_cpu)


def throughput(targets: list[Target], args: argparse.Namespace) -> None:
    totals = {target.label: Load() for target in targets}
    for round_ in range(ROUNDS):
        for target in targets if round_ % 2 == 0 else targets[::-1]:
            totals[target.label].add(run_clients(target, args, args.seconds / ROUNDS, round_))
    base = totals[targets[0].label]
    print(
        "| database | requests/s | vs single | request p50 µs | request p95 µs"
        " | client CPU (cores) | machine CPU busy |"
    )
    print("|---|---|---|---|---|---|---|")
    for target in targets:
        load = totals[target.label]
        rate = load.requests / load.seconds
        ratio = rate / (base.requests / base.seconds)
        durations = sorted(load.durations)
        p50 = durations[len(durations) // 2] * 1e6
        p95 = durations[int(len(durations) * 0.95)] * 1e6
        client = load.client_cpu / load.seconds
        machine = "?"
        if load.machine_cpu is not None:
            machine = f"{load.machine_cpu / load.seconds / (os.cpu_count() or 1):.0%}"
        print(
            f"| {target.label} | {rate:.0f} | {ratio:.2f} | {p50:.0f} | {p95:.0f}"
            f" | {client:.2f} | {machine} |"
        )


# --- 3. audited writes -------------------------------------------------------------------


def write(
    target: Target, table: str, tenant: int, key: int, steps: list[tuple[str, list[object], int]]
) -> list[float]:
    """One transaction under ``tenant_context``, as a request runs: an untimed read of row
    ``key`` (the context goes with it and, on Citus, the shard's connection opens), then
    each step, (write, params, rows it must touch), timed. The times of the steps."""
    times = []
    with (
        mode(target),
        tenant_context(tenant),
        transaction.atomic(using=target.alias),
        connections[target.alias].cursor() as cursor,
    ):
        cursor.execute(f"SELECT name FROM {table} WHERE tenant_id = %s AND id = %s", [tenant, key])
        cursor.fetchall()
        for kind, params, rows in steps:
            start = time.perf_counter()
            cursor.execute(WRITES[kind].format(table=table), params)
            times.append(time.perf_counter() - start)
            if cursor.rowcount != rows:
                raise RuntimeError(
                    f"{target.label}, {table}, {kind}: {cursor.rowcount} rows, not {rows}"
                )
    return times


def one_row(tenant: int, key: int, sample: int) -> list[tuple[str, list[object], int]]:
    """Scenarios (a) and (b): insert row ``key`` of ``tenant``, then change its name."""
    return [
        ("insert", [tenant, key, f"new {key}"], 1),
        ("update", [f"new {key} v{sample}", tenant, key], 1),
    ]


def bulk(args: argparse.Namespace, sample: int) -> list[tuple[str, list[object], int]]:
    """Scenario (c): every row of the batch tenant gets a name it did not have."""
    return [("batch", [str(sample), args.tenants + 1, args.rows + 1, args.rows + BATCH], BATCH)]


def count_entries(target: Target) -> int:
    """The entries in the log, counted as its owner (row level security not FORCEd)."""
    with connect(target.databases.owner, autocommit=True) as conn:
        return conn.execute(
            f"SELECT count(*) FROM {AUDIT_LOG} WHERE model = %s", [AUDIT_LABEL]
        ).fetchone()[0]


def check_entries(target: Target, args: argparse.Namespace, tenant: int, key: int) -> None:
    """Once before timing: each audited write leaves one entry per row it touched, of the
    row's tenant (on Citus in the log's shard of that tenant), and the same writes on the
    plain table leave none. Fails loudly."""
    for table in (PLAIN, AUDITED):
        for step in [*one_row(tenant, key, -1), *bulk(args, -1)]:
            kind, _params, rows = step
            before = count_entries(target)
            write(target, table, args.tenants + 1 if kind == "batch" else tenant, key, [step])
            added = count_entries(target) - before
            wanted = rows if table == AUDITED else 0
            if added != wanted:
                raise RuntimeError(
                    f"{target.label}: {kind} on {table} wrote {added} audit entries, not {wanted}"
                )
    shard = "shard_tenant::text <> tenant_id" if target.citus else "false"
    with connect(target.databases.owner, autocommit=True) as conn:
        wrong = conn.execute(
            "SELECT count(*) FILTER (WHERE tenant_id IS DISTINCT FROM"
            " (CASE object_pk WHEN %s THEN %s ELSE %s END)),"
            f" count(*) FILTER (WHERE {shard}) FROM {AUDIT_LOG} WHERE model = %s",
            [str(key), str(tenant), str(args.tenants + 1), AUDIT_LABEL],
        ).fetchone()
    if wrong != (0, 0):
        raise RuntimeError(f"{target.label}: entries of the wrong tenant, shard: {wrong}")


def audited_writes(
    targets: list[Target], args: argparse.Namespace, picks: list[tuple[int, str]]
) -> None:
    """Scenarios (a), (b) and (c), plain table against audited, targets and tables
    interleaved per sample. The log gains 2 entries per one-row sample and ``BATCH`` per
    bulk sample: bounded by ``--samples`` (the databases are dropped at the end)."""
    keys = iter(range(args.rows + BATCH + 1, sys.maxsize))  # new rows, in no tenant yet
    check_key = next(keys)
    for target in targets:
        check_entries(target, args, picks[0][0], check_key)
    before = {target.label: count_entries(target) for target in targets}
    times: dict[tuple[str, str, str], list[float]] = {
        (target.label, table, kind): []
        for target in targets
        for table in (PLAIN, AUDITED)
        for kind in WRITES
    }
    bulk_samples = max(10, args.samples // 50)
    runs = [(sample, "one") for sample in range(len(picks))]
    runs += [(sample, "bulk") for sample in range(BATCH_WARM_UP + bulk_samples)]
    for sample, what in runs:
        if what == "one":
            tenant, key, warm = picks[sample][0], next(keys), WARM_UP
            steps = one_row(tenant, key, sample)
        else:
            tenant, key, warm = args.tenants + 1, args.rows + 1, BATCH_WARM_UP
            steps = bulk(args, sample)
        for target in targets:
            tables = (PLAIN, AUDITED) if sample % 2 == 0 else (AUDITED, PLAIN)
            for table in tables:
                elapsed = write(target, table, tenant, key, steps)
                if sample >= warm:
                    for (kind, _params, _rows), seconds in zip(steps, elapsed, strict=True):
                        times[(target.label, table, kind)].append(seconds)
    for target in targets:  # every write since the check left its entries, no more
        added = count_entries(target) - before[target.label]
        wanted = 2 * len(picks) + BATCH * (BATCH_WARM_UP + bulk_samples)
        if added != wanted:
            raise RuntimeError(f"{target.label}: {added} audit entries, not {wanted}")
    print(
        "| statement | database | plain | audited | audited / plain"
        " | audited - plain per entry µs |"
    )
    print("|---|---|---|---|---|---|")
    for kind, label in WRITE_LABELS.items():
        rows, unit = (BATCH, "ms") if kind == "batch" else (1, "µs")
        for target in targets:
            plain = statistics.median(times[(target.label, PLAIN, kind)])
            audited = statistics.median(times[(target.label, AUDITED, kind)])
            per_entry = (audited - plain) / rows * 1e6
            print(
                f"| {label} | {target.label} | {duration(plain, unit)} | {duration(audited, unit)}"
                f" | {audited / plain:.2f} | {per_entry:+.1f} |"
            )


def duration(seconds: float, unit: str) -> str:
    """One unit for a statement's cells (µs for one row, ms for the bulk UPDATE)."""
    return f"{seconds * 1e3:.1f} ms" if unit == "ms" else f"{seconds * 1e6:.0f} µs"


# --- main --------------------------------------------------------------------------------


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def make_picks(rows: int, tenants: int, count: int) -> list[tuple[int, str]]:
    """``count`` random rows as (tenant, name), the same in every run."""
    rng = random.Random(7)
    picks = []
    for _ in range(count):
        row = rng.randrange(1, rows + 1)
        picks.append((1 + row % tenants, f"name {row}"))
    return picks


def run(targets: list[Target], args: argparse.Namespace, load: float) -> None:
    create_databases(targets)
    configure(targets)
    audited = [targets[0], targets[-1]]  # the one-worker cluster: not for scenario 3
    for target in targets:
        progress(f"Building {NAME} on {target.label}...")
        build(target, args.rows, args.tenants, target in audited)
    print(
        f"Servers ({os.cpu_count()} cores, 1-minute load average before the run: {load:.2f};"
        " other work on the machine skews every figure):\n"
    )
    for target in targets:
        print(f"- {target.label}: {server_notes(target)}")
    picks = make_picks(args.rows, args.tenants, WARM_UP + args.samples)
    check_plans(targets, picks)
    print(
        f"\n### 1. Latency: {args.rows} rows over {args.tenants} tenants, application role,"
        f" median of {args.samples} samples\n"
    )
    progress("Measuring latency...")
    latency(targets, picks)
    print(
        f"\n### 2. Throughput: {args.threads} clients (threads, a connection each),"
        f" {args.seconds:g} s per database; a request: one lookup and one page in a"
        " transaction\n"
    )
    progress("Measuring throughput...")
    throughput(targets, args)
    print(
        f"\n### 3. Audited writes: application role, in a transaction; median of"
        f" {args.samples} samples ({max(10, args.samples // 50)} for the {BATCH}-row UPDATE)\n"
    )
    progress("Measuring audited writes...")
    audited_writes(audited, args, picks)
    print(
        f"\nEverything ran on this one machine ({os.cpu_count()} cores), shared by the client"
        " threads (one Python process), the single server and every node of both clusters:"
        " no real scale-out can show here. When the machine's CPU is busy near 100%,"
        " requests/s measures the CPU each request costs on all processes together. The"
        " latency ratios are the per-statement price of Citus: the coordinator-to-worker hop"
        " (the baseline rows) and, in Citus mode, the context sent as a statement of its own"
        " (BEGIN; SET LOCAL ... and COMMIT in autocommit), forwarded to the worker and"
        " verified in full there. The audited writes compare a table with capture triggers"
        " with one without on the same server: on the single server one INSERT ... SELECT"
        " of the statement's entries, on Citus one entry INSERT per row, on the shard."
    )


def cleanup(targets: list[Target], folder: Path) -> None:
    """Drop the databases, stop the one-worker cluster; go on past any failure."""
    connections.close_all()
    steps = [
        (f"dropping {NAME} on {target.label}", target)
        for target in targets
        if target.local is not None
    ]
    for what, target in steps:
        try:
            if target.citus:
                citus.drop_database(target.admin, NAME)
            else:
                drop_single(target.admin)
        except Exception as error:
            progress(f"bench_citus: {what}: {error}")
    try:
        citus.stop_cluster(folder)
    except Exception as error:
        progress(f"bench_citus: stopping the cluster in {folder}: {error}")
    shutil.rmtree(folder, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument(
        "--port", type=int, default=9780, help="the one-worker cluster's coordinator port"
    )
    args = parser.parse_args()
    citus_url = os.environ.get("CITUS_URL", "")
    if not citus_url:
        progress(
            "bench_citus: set CITUS_URL to the coordinator superuser's URL of a running Citus"
            " cluster with workers (python -m django_prodpatterns.devserver.citus start DIR)."
        )
        return 2
    cluster = {**environ.Env.db_url_config(citus_url), "NAME": "postgres"}
    single = environ.Env.db_url_config(os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL))
    nodes = citus.workers(cluster)
    if not nodes:
        progress(f"bench_citus: the cluster at {citus_url} has no active workers.")
        return 2

    load = os.getloadavg()[0]
    folder = Path(tempfile.mkdtemp(prefix="prodpatterns-bench-citus-", dir="/tmp"))
    targets: list[Target] = []
    try:
        progress(f"Starting a one-worker cluster in {folder} (port {args.port})...")
        one = citus.start_cluster(folder, args.port, workers=1)
        targets = [
            Target("single", False, "single", "single_owner", single),
            Target("Citus 1 worker", True, "citus1", "citus1_owner", one),
            Target(f"Citus {len(nodes)} workers", True, "citus2", "citus2_owner", cluster),
        ]
        if len(nodes) == 1:  # labels must differ: they key the results
            targets[-1].label = "Citus 1 worker (CITUS_URL)"
        run(targets, args, load)
    finally:
        cleanup(targets, folder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
