"""``manage.py purge_deleted --older-than 30d``: really delete long-dead rows, in chunks."""

from typing import Any

from django.apps import apps
from django.core.management.base import CommandError, CommandParser
from django.db import models
from django.utils import timezone

from ...deletion import purge
from ...markers import DELETED_AT
from ...relations import is_soft_deletable
from ._softdelete import (
    SoftDeleteCommand,
    command_audit,
    duration,
    require_tenant,
    rows_of,
    soft_delete_model,
    tenant_bound,
)


class Command(SoftDeleteCommand):
    help = "Hard-delete rows soft-deleted longer ago than --older-than, chunk by chunk."

    dry_run_help = "count, change nothing"

    def add_selection(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="e.g. 30d, 12h, 2w")
        parser.add_argument("--model", action="append", default=[], help="app_label.Model")
        parser.add_argument("--batch-size", type=int, default=1000, help="rows per chunk")

    def run(self, *, actor: object, reason: str | None, **options: Any) -> None:
        with command_audit("purge_deleted", actor, reason):
            self.purge(**options)

    def purge(
        self,
        *,
        older_than: str,
        model: list[str],
        batch_size: int,
        dry_run: bool,
        database: str,
        **options: Any,
    ) -> None:
        cutoff = timezone.now() - duration(older_than)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        if model:
            targets = [soft_delete_model(label) for label in model]
        else:
            targets = [m for m in apps.get_models() if is_soft_deletable(m)]
        require_tenant(targets, database, every_model=not model)
        purged = 0
        for target in targets:
            rows = rows_of(target, database).filter(**{f"{DELETED_AT}__lt": cutoff})
            if dry_run:
                count = rows.count()
                if count:
                    self.stdout.write(f"  {target._meta.label}: {count}")
                purged += count
                continue
            label = target._meta.label

            def report(done: int, total: int, label: str = label) -> None:
                if total > batch_size:
                    self.stdout.write(f"  {label}: {done}/{total}")

            try:
                count = purge(rows, batch_size=batch_size, progress=report, tenant=tenant_bound())
            except (models.ProtectedError, models.RestrictedError) as exc:
                raise CommandError(f"{label}: {exc.args[0]}") from None
            if count:
                self.stdout.write(f"  {label}: {count}")
            purged += count
        verb = "Would purge" if dry_run else "Purged"
        self.stdout.write(f"{verb} {purged} rows deleted before {cutoff:%Y-%m-%d %H:%M:%S %Z}.")
