"""``manage.py for_each_tenant <command> [args]``: a management command once per tenant.

Maintenance that concerns each tenant's rows (a recount, a backfill, a report) runs inside
that tenant's context, as a request of that tenant would: row level security, the
managers and the audit trail see that tenant alone. The command runs for every tenant, or
for those ``--tenant`` names, one after the other or ``--parallel N`` at a time (threads,
each with its own database connections); each tenant's output is printed when it is done,
the failures are summed up at the end, and any failure makes the exit status non-zero.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from io import StringIO
from typing import Any

from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections, models, router

from ...context import audit_context, tenant_context
from ...models.tenancy import get_tenant_model

THIS_COMMAND = "for_each_tenant"


@dataclass(frozen=True)
class Outcome:
    """What one tenant's run printed, how long it took, and why it failed (if it did)."""

    tenant: models.Model
    output: str
    seconds: float
    error: str | None


class Command(BaseCommand):
    help = (
        "Run a management command once for each tenant (every tenant, or those --tenant "
        "names), inside that tenant's context. Options of this command come before the "
        "command's name; everything after it goes to the command."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--tenant",
            action="append",
            default=[],
            help="a tenant's primary key; repeatable (default: every tenant)",
        )
        parser.add_argument(
            "--parallel",
            type=int,
            default=1,
            help="how many tenants run at once, each in a thread of its own (default 1)",
        )
        parser.add_argument(
            "--tenant-database",
            default=None,
            help="the database alias the tenants are read from (default: the router's)",
        )
        parser.add_argument("command_name", metavar="command", help="the command to run")
        parser.add_argument("command_args", nargs=argparse.REMAINDER, help="its arguments")

    def handle(self, *args: Any, **options: Any) -> None:
        name: str = options["command_name"]
        command_args: list[str] = options["command_args"]
        parallel: int = options["parallel"]
        if name == THIS_COMMAND:
            raise CommandError("for_each_tenant cannot run itself: name another command.")
        if name not in get_commands():
            raise CommandError(f"Unknown command {name!r}: see `manage.py help` for the list.")
        if parallel < 1:
            raise CommandError("--parallel takes a number of tenants at a time, 1 or more.")
        tenants = self.tenants(options["tenant"], options["tenant_database"])
        total = len(tenants)
        failed: list[Outcome] = []
        for done, outcome in enumerate(self.outcomes(name, command_args, tenants, parallel), 1):
            self.report(done, total, outcome)
            if outcome.error is not None:
                failed.append(outcome)
        summary = f"{total} tenant(s): {total - len(failed)} ok, {len(failed)} failed"
        if failed:
            keys = ", ".join(str(outcome.tenant.pk) for outcome in failed)
            raise CommandError(f"{summary} ({keys}): see each tenant's output above.")
        self.stdout.write(self.style.SUCCESS(summary))

    def tenants(self, keys: list[str], alias: str | None) -> list[models.Model]:
        """Every tenant, or the ones ``keys`` name (an unknown key is an error, before
        anything runs), in primary-key order."""
        model = get_tenant_model()
        rows = model._default_manager.using(alias or router.db_for_read(model)).order_by("pk")
        if not keys:
            return list(rows)
        try:
            found = list(rows.filter(pk__in=keys))
        except (ValueError, TypeError) as error:
            raise CommandError(
                f"--tenant takes {model._meta.label} primary keys: {error}"
            ) from error
        missing = sorted(set(keys) - {str(tenant.pk) for tenant in found})
        if missing:
            raise CommandError(
                f"No {model._meta.label} with primary key {', '.join(missing)}: "
                "check the --tenant values."
            )
        return found

    def outcomes(
        self, name: str, args: list[str], tenants: list[models.Model], parallel: int
    ) -> Iterator[Outcome]:
        """Each tenant's outcome as it is done (in order when one at a time)."""
        if parallel == 1:
            for tenant in tenants:
                yield run_for(tenant, name, args)
            return
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            runs = [pool.submit(run_in_thread, tenant, name, args) for tenant in tenants]
            for run in runs:
                yield run.result()

    def report(self, done: int, total: int, outcome: Outcome) -> None:
        label = f"[{done}/{total}] {outcome.tenant} ({outcome.tenant.pk})"
        took = f"{outcome.seconds:.2f} s"
        if outcome.error is None:
            self.stdout.write(f"{label}: ok in {took}")
        else:
            self.stdout.write(self.style.ERROR(f"{label}: FAILED in {took}: {outcome.error}"))
        for line in outcome.output.splitlines():
            self.stdout.write(f"    {line}")


def run_for(tenant: models.Model, name: str, args: list[str]) -> Outcome:
    """``name`` with ``args`` inside ``tenant``'s context; its output and any failure
    captured (a failing tenant does not stop the others)."""
    output = StringIO()
    started = time.monotonic()
    error = None
    try:
        with tenant_context(tenant), audit_context(reason=f"for_each_tenant {name}"):
            call_command(name, *args, stdout=output, stderr=output)
    except (Exception, SystemExit) as exc:  # a command's failure is reported, not raised
        error = f"{type(exc).__name__}: {exc}"
    return Outcome(tenant, output.getvalue(), time.monotonic() - started, error)


def run_in_thread(tenant: models.Model, name: str, args: list[str]) -> Outcome:
    """:func:`run_for` in a pool's thread: its database connections are its own and are
    closed when the tenant is done."""
    try:
        return run_for(tenant, name, args)
    finally:
        connections.close_all()
