"""``manage.py soft_delete app_label.Model --pk 1 --pk 2``: soft-delete rows and cascade."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, models, transaction

from ...deletion import soft_delete_operation
from ...exceptions import SoftDeleteCascadeError
from ._softdelete import (
    add_actor_options,
    add_tenant_option,
    command_actor,
    command_audit,
    existing,
    primary_keys,
    require_tenant,
    rows_of,
    soft_delete_model,
    tenant_bound,
    tenant_scope,
    write_counts,
)


class Command(BaseCommand):
    help = "Soft-delete rows (and what CASCADE takes with them) as one batch."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("model", help="app_label.ModelName")
        parser.add_argument("--pk", action="append", required=True, help="repeatable")
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
        already = sorted(rows.filter(deleted_at__isnull=False).values_list("pk", flat=True))
        if already:
            self.stdout.write(f"Already deleted, skipped: {', '.join(map(str, already))}")
        try:
            with command_audit("soft_delete", actor, reason), transaction.atomic(using=database):
                op = soft_delete_operation(rows, tenant=tenant_bound())
                if dry_run:
                    transaction.set_rollback(True, using=database)
        except (models.ProtectedError, models.RestrictedError, SoftDeleteCascadeError) as exc:
            raise CommandError(str(exc.args[0])) from None
        total, counts = op.result
        verb = "Would soft-delete" if dry_run else "Soft-deleted"
        self.stdout.write(f"{verb} {total} rows in batch {op.batch}:")
        write_counts(self.stdout, counts)
        if dry_run:
            self.stdout.write("Dry run: nothing was changed.")
