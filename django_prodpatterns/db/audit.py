"""Audit capture as migration state: statement-level triggers with transition tables.

Every concrete audited model gets one ``AuditTriggers`` constraint (added automatically,
see ``models/audit.py``): AFTER INSERT, UPDATE and DELETE triggers, each FOR EACH STATEMENT
with transition tables, so a 10,000-row ``QuerySet.update()`` writes its 10,000 entries in
one INSERT ... SELECT, in the same transaction as the change. The shared trigger function
(``sql/audit_function.sql``) reads the context channel's transaction-local settings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.db.migrations.operations import RunSQL

from .constraints import _SQLConstraint

SQL_DIR = Path(__file__).parent / "sql"


def sql_file(name: str) -> str:
    return (SQL_DIR / name).read_text()


class PostgresRunSQL(RunSQL):
    """RunSQL that runs on PostgreSQL only (a no-op elsewhere, shown by sqlmigrate)."""

    def database_forwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(
        self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any
    ) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class AuditTriggers(_SQLConstraint):
    """The three capture triggers of one audited table."""

    path = "django_prodpatterns.db.audit.AuditTriggers"
    options = ("label", "pk", "tenant", "redact", "ignore")

    def _arguments(self, schema_editor: Any) -> str:
        values = [
            self.label,
            self.pk,
            self.tenant or "",
            json.dumps(sorted(self.redact)),
            json.dumps(sorted(self.ignore)),
        ]
        return ", ".join("'" + value.replace("'", "''") + "'" for value in values)

    def create_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        call = f"EXECUTE FUNCTION prodpatterns_audit({self._arguments(schema_editor)})"
        return [
            sql_file("audit_function.sql"),
            f"CREATE TRIGGER {quote(self.name + '_ins')} AFTER INSERT ON {table}"
            f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT {call}",
            f"CREATE TRIGGER {quote(self.name + '_upd')} AFTER UPDATE ON {table}"
            f" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT {call}",
            f"CREATE TRIGGER {quote(self.name + '_del')} AFTER DELETE ON {table}"
            f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT {call}",
        ]

    def remove_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        return [
            f"DROP TRIGGER IF EXISTS {quote(self.name + suffix)} ON {table}"
            for suffix in ("_ins", "_upd", "_del")
        ]
