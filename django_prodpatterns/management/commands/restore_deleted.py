"""``manage.py restore_deleted app_label.Model``: bring rows back by pk, batch or date."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, transaction

from ...deletion import restore_operation
from ...exceptions import RestoreConflict
from ._softdelete import (
    add_actor_options,
    add_tenant_option,
    batch_id,
    command_actor,
    command_audit,
    existing,
    moment,
    primary_keys,
    require_tenant,
    rows_of,
    soft_delete_model,
    tenant_bound,
    tenant_scope,
    write_counts,
)


class Command(BaseCommand):
    help = (
        "Restore soft-deleted rows and what their deletion took with them. Restoring by "
        "--batch brings back exactly what that delete removed."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--pk", action="append", default=[], help="repeatable")
        parser.add_argument("--batch", help="a deletion batch id (UUID)")
        parser.add_argument("--deleted-after", help="YYYY-MM-DD or an ISO 8601 datetime")
        parser.add_argument("--all", action="store_true", help="every deleted row of the model")
        add_actor_options(parser)
        parser.add_argument("--dry-run", action="store_true", help="show, change nothing")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        add_tenant_option(parser)

    def handle(
        self, *args: Any, tenant: str | None = None, actor: str | None = None, **options: Any
    ) -> None:
        user = command_actor(actor)  # an unknown --actor fails before anything else
        with tenant_scope(tenant):
            self._handle(*args, actor=user, **options)

    def _handle(
        self,
        *args: Any,
        model: str,
        pk: list[str],
        batch: str | None,
        deleted_after: str | None,
        all: bool,
        reason: str | None,
        dry_run: bool,
        database: str,
        actor: object = None,
        **options: Any,
    ) -> None:
        model_class = soft_delete_model(model)
        if not (pk or batch or deleted_after or all):
            raise CommandError("Say what to restore: --pk, --batch, --deleted-after or --all.")
        require_tenant([model_class], database)
        rows = rows_of(model_class, database).filter(deleted_at__isnull=False)
        if pk:
            pks = primary_keys(model_class, pk)
            existing(model_class, pks, database)
            rows = rows.filter(pk__in=pks)
        if batch:
            rows = rows.filter(deletion_batch=batch_id(batch))
        if deleted_after:
            rows = rows.filter(deleted_at__gt=moment(deleted_after, "--deleted-after"))
        selected = rows.count()
        if not selected:
            raise CommandError(f"No deleted {model_class._meta.label} rows match.")
        try:
            with (
                command_audit("restore_deleted", actor, reason),
                transaction.atomic(using=database),
            ):
                op = restore_operation(rows, tenant=tenant_bound())
                if dry_run:
                    transaction.set_rollback(True, using=database)
        except RestoreConflict as exc:
            raise CommandError(str(exc)) from None
        total, counts = op.result
        verb = "Would restore" if dry_run else "Restored"
        self.stdout.write(f"{verb} {total} rows (restore id {op.batch}):")
        write_counts(self.stdout, counts)
        waiting = selected - counts.get(model_class._meta.label, 0)
        if waiting:
            self.stdout.write(
                f"{waiting} selected {model_class._meta.label} rows stay deleted: a parent they "
                "cascade from is still deleted; restore the parent instead."
            )
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
