"""``manage.py restore_deleted app_label.Model``: bring rows back by pk, batch or date."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from ...deletion import preview_transaction, restore_operation
from ...exceptions import RestoreConflict
from ...markers import DELETED_AT
from ._softdelete import (
    SoftDeleteCommand,
    batch_id,
    command_audit,
    existing,
    moment,
    primary_keys,
    require_tenant,
    rows_of,
    soft_delete_model,
    tenant_bound,
    write_counts,
)


class Command(SoftDeleteCommand):
    help = (
        "Restore soft-deleted rows and what their deletion took with them. Restoring by "
        "--batch brings back exactly what that delete removed."
    )

    def add_selection(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--pk", action="append", default=[], help="repeatable")
        parser.add_argument("--batch", help="a deletion batch id (UUID)")
        parser.add_argument("--deleted-after", help="YYYY-MM-DD or an ISO 8601 datetime")
        parser.add_argument("--all", action="store_true", help="every deleted row of the model")

    def run(
        self,
        *,
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
        rows = rows_of(model_class, database).filter(**{f"{DELETED_AT}__isnull": False})
        if pk:
            pks = primary_keys(model_class, pk)
            existing(model_class, pks, database)
            rows = rows.filter(pk__in=pks)
        if batch:
            rows = rows.filter(deletion_batch=batch_id(batch))
        if deleted_after:
            after = moment(deleted_after, "--deleted-after")
            rows = rows.filter(**{f"{DELETED_AT}__gt": after})
        selected = rows.count()
        if not selected:
            raise CommandError(f"No deleted {model_class._meta.label} rows match.")
        try:
            with (
                command_audit("restore_deleted", actor, reason),
                preview_transaction(database, preview=dry_run),
            ):
                op = restore_operation(rows, tenant=tenant_bound())
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
