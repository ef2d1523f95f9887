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
``tenant_id``. Every query runs as the application role, through the context channel,
with the tenant in its WHERE as the ORM writes it.

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
from django_prodpatterns.devserver import citus  # noqa: E402
from django_prodpatterns.devserver.embedded import (  # noqa: E402
    LocalDatabases,
    connect,
    local_databases,
    prepare,
)
from django_prodpatterns.ops.roles import (  # noqa: E402
    APP_ROLE,
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


def build(target: Target, rows: int, tenants: int) -> None:
    """Migrate the app (signed context functions and key), create and fill the table."""
    with mode(target):
        call_command("migrate", "prodpatterns", database=target.owner, verbosity=0)
    connections[target.owner].close()
    condition = policy_condition(target)
    with connect(target.databases.owner, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_item")
        conn.execute(
            "CREATE TABLE bench_item (tenant_id bigint NOT NULL, id bigint NOT NULL,"
            " name text NOT NULL, created timestamptz NOT NULL, PRIMARY KEY (tenant_id, id))"
        )
        if target.citus:
            conn.execute("SELECT create_distributed_table('bench_item', 'tenant_id')")
        # Rows before row level security: Citus moves INSERT ... SELECT with COPY, which it
        # refuses on a table with RLS.
        conn.execute(
            "INSERT INTO bench_item SELECT 1 + g %% %s, g, 'name ' || g,"
            " now() - g * interval '1 second' FROM generate_series(1, %s) g",
            [tenants, rows],
        )
        conn.execute("CREATE INDEX ON bench_item (tenant_id, name)")
        conn.execute("CREATE INDEX ON bench_item (tenant_id, created DESC)")
        conn.execute("ALTER TABLE bench_item ENABLE ROW LEVEL SECURITY")
        conn.execute("ALTER TABLE bench_item FORCE ROW LEVEL SECURITY")
        conn.execute(
            f"CREATE POLICY bench_item_tenant ON bench_item USING ({condition})"
            f" WITH CHECK ({condition})"
        )
        for role in (APP_ROLE, CROSS_TENANT_ROLE):
            grant_app_privileges(conn, role.name)
        conn.execute("VACUUM ANALYZE bench_item")


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
    for target in targets:
        progress(f"Building {NAME} on {target.label}...")
        build(target, args.rows, args.tenants)
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
        f"\nEverything ran on this one machine ({os.cpu_count()} cores), shared by the client"
        " threads (one Python process), the single server and every node of both clusters:"
        " no real scale-out can show here. When the machine's CPU is busy near 100%,"
        " requests/s measures the CPU each request costs on all processes together. The"
        " latency ratios are the per-statement price of Citus: the coordinator-to-worker hop"
        " (the baseline rows) and, in Citus mode, the context sent as a statement of its own"
        " (BEGIN; SET LOCAL ... and COMMIT in autocommit), forwarded to the worker and"
        " verified in full there."
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
