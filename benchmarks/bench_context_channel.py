"""What the context channel costs per statement, as ratios against plain Django.

Run from the top of the checkout: ``python benchmarks/bench_context_channel.py``
(embedded PostgreSQL unless DATABASE_URL is set). Each scenario runs the same primary-key
lookups, then single-row UPDATEs, through the application role; the baseline is the same
connection with the channel's execute wrapper removed, i.e. plain Django. Rounds interleave
the scenarios so that drift on the machine hits them alike; medians are reported.
"""

import os
import statistics
import sys
import time
from contextlib import ExitStack, contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connections, transaction  # noqa: E402

from django_prodpatterns.context import audit_context, tenant_context  # noqa: E402
from django_prodpatterns.db import session  # noqa: E402
from django_prodpatterns.ops.roles import APP_ROLE, grant_app_privileges  # noqa: E402
from tests.testapp.models import Article  # noqa: E402

ROUNDS, OPS = 7, 400


class Actor:
    pk = 42

    def __str__(self):
        return "bench-user"


@contextmanager
def without_channel(alias):
    wrappers = connections[alias].execute_wrappers
    wrappers.remove(session.apply_context)
    try:
        yield
    finally:
        wrappers.insert(0, session.apply_context)


def lookups(pks):
    qs = Article.objects.using("app")
    for pk in pks:
        qs.filter(pk=pk).first()


def updates(pks):
    qs = Article.objects.using("app")
    for pk in pks:
        qs.filter(pk=pk).update(body="x")


def measure(scenarios, workload, pks):
    """Median seconds per statement for each scenario; rounds interleave the scenarios."""
    times = {name: [] for name in scenarios}
    for _ in range(ROUNDS):
        for name, setup in scenarios.items():
            with ExitStack() as stack:
                for cm in setup():
                    stack.enter_context(cm)
                start = time.perf_counter()
                workload(pks)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) / len(pks) for name, values in times.items()}


def main():
    call_command("migrate", verbosity=0)
    grant_app_privileges(connections["default"].cursor().connection, APP_ROLE.name)
    Article.objects.all().delete()
    Article.objects.bulk_create(Article(title=str(i)) for i in range(OPS))
    connections["app"].ensure_connection()

    scenarios = {
        "plain Django (channel removed)": lambda: [without_channel("app")],
        "channel installed, no context": lambda: [],
        "tenant + audit context, autocommit": lambda: [
            tenant_context(7),
            audit_context(actor=Actor(), reason="benchmark", request_id="r-1"),
        ],
        "tenant + audit context, in atomic": lambda: [
            tenant_context(7),
            audit_context(actor=Actor(), reason="benchmark", request_id="r-1"),
            transaction.atomic(using="app"),
        ],
        "plain Django, in atomic": lambda: [
            without_channel("app"),
            transaction.atomic(using="app"),
        ],
    }
    pks = list(Article.objects.using("app").values_list("pk", flat=True))
    for workload in (lookups, updates):
        results = measure(scenarios, workload, pks)
        base = results["plain Django (channel removed)"]
        base_atomic = results["plain Django, in atomic"]
        print(f"\n{workload.__name__:40} {'us/statement':>12} {'ratio':>7}")
        for name, seconds in results.items():
            ref = base_atomic if "atomic" in name else base
            print(f"{name:40} {seconds * 1e6:12.1f} {seconds / ref:7.2f}")


if __name__ == "__main__":
    main()
