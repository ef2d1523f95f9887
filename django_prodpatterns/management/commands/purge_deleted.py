"""``manage.py purge_deleted --older-than 30d``: really delete long-dead rows, in chunks."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, models
from django.utils import timezone

from ...deletion import purge
from ...relations import is_soft_deletable
from ._softdelete import (
    add_actor_options,
    add_tenant_option,
    command_actor,
    command_audit,
    duration,
    require_tenant,
    rows_of,
    soft_delete_model,
    tenant_bound,
    tenant_scope,
)


class Command(BaseCommand):
    help = "Hard-delete rows soft-deleted longer ago than --older-than, batch by batch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--older-than", required=True, help="e.g. 30d, 12h, 2w")
        parser.add_argument("--model", action="append", default=[], help="app_label.Model")
        parser.add_argument("--batch-size", type=int, default=1000)
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        add_actor_options(parser)
        add_tenant_option(parser)

    def handle(
        self,
        *args: Any,
        tenant: str | None = None,
        actor: str | None = None,
        reason: str | None = None,
        **options: Any,
    ) -> None:
        user = command_actor(actor)  # an unknown --actor fails before anything else
        with tenant_scope(tenant), command_audit("purge_deleted", user, reason):
            self._handle(*args, **options)

    def _handle(
        self,
        *args: Any,
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
            from django.apps import apps

            targets = [m for m in apps.get_models() if is_soft_deletable(m)]
        require_tenant(targets, database, every_model=not model)
        purged = 0
        for target in targets:
            rows = rows_of(target, database).filter(deleted_at__lt=cutoff)
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
