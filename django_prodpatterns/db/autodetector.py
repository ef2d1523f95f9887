"""``makemigrations`` that orders the generated tenant DDL so it can run.

A :class:`~django_prodpatterns.db.constraints.TenantForeignKey` references the target
table's ``UNIQUE (tenant, pk)`` key, which is another ``AddConstraint`` of the same
migration when both models are new. Django orders constraints of different models freely,
so the foreign key could come first and fail, or, unapplied, leave the key impossible to
drop. Every tenant foreign key moves to the end of its app's operations: nothing depends
on it, and by then every key of that app exists.
"""

from __future__ import annotations

from django.db.migrations import operations
from django.db.migrations.autodetector import MigrationAutodetector

from .constraints import TenantForeignKey


def _is_tenant_key_reference(operation: object) -> bool:
    return isinstance(operation, operations.AddConstraint) and isinstance(
        operation.constraint, TenantForeignKey
    )


class TenantAwareAutodetector(MigrationAutodetector):
    def _sort_migrations(self) -> None:
        super()._sort_migrations()
        for app_label, ops in self.generated_operations.items():
            last = [op for op in ops if _is_tenant_key_reference(op)]
            if last:
                rest = [op for op in ops if not _is_tenant_key_reference(op)]
                self.generated_operations[app_label] = rest + last
