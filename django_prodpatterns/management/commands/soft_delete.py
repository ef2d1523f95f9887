"""``manage.py soft_delete app_label.Model --pk 1 --pk 2``: soft-delete rows and cascade."""

from typing import Any

from django.core.management.base import CommandError, CommandParser
from django.db import models

from ...deletion import preview_transaction, soft_delete_operation
from ...exceptions import SoftDeleteCascadeError
from ...markers import DELETED_AT
from ._softdelete import (
    SoftDeleteCommand,
    command_audit,
    existing,
    primary_keys,
    require_tenant,
    rows_of,
    soft_delete_model,
    tenant_bound,
    write_counts,
)


class Command(SoftDeleteCommand):
    help = "Soft-delete rows (and what CASCADE takes with them) as one batch."

    def add_selection(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--pk", action="append", required=True, help="repeatable")

    def run(
        self,
        *,
        model: str,
        pk: list[str],
        reason: str | None,
        dry_run: bool,
        database: str,
        actor: object = None,
        **options: Any,
    ) -> None:
        model_class = soft_delete_model(model)
        require_tenant([model_class], database)
        pks = primary_keys(model_class, pk)
        existing(model_class, pks, database)
        rows = rows_of(model_class, database).filter(pk__in=pks)
        already = sorted(
            rows.filter(**{f"{DELETED_AT}__isnull": False}).values_list("pk", flat=True)
        )
        if already:
            self.stdout.write(f"Already deleted, skipped: {', '.join(map(str, already))}")
        try:
            with (
                command_audit("soft_delete", actor, reason),
                preview_transaction(database, preview=dry_run),
            ):
                op = soft_delete_operation(rows, tenant=tenant_bound())
        except (models.ProtectedError, models.RestrictedError, SoftDeleteCascadeError) as exc:
            raise CommandError(str(exc.args[0])) from None
        total, counts = op.result
        verb = "Would soft-delete" if dry_run else "Soft-deleted"
        self.stdout.write(f"{verb} {total} rows in batch {op.batch}:")
        write_counts(self.stdout, counts)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
