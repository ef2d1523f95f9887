"""Audit capture as migration state: statement-level triggers with transition tables.

Every concrete audited model gets one ``AuditTriggers`` constraint (added automatically,
see ``models/audit.py``): AFTER INSERT, UPDATE and DELETE triggers, each FOR EACH STATEMENT
with transition tables, so a 10,000-row ``QuerySet.update()`` writes its 10,000 entries in
one INSERT ... SELECT, in the same transaction as the change. The shared trigger function
(``sql/audit_function_v<N>.sql``) reads the context channel's transaction-local settings.
The app's own migrations install each version of it; a constraint creates it only when it
does not exist yet, so it never replaces a newer version. From version 4 it also honours a
deliberate backfill (``django_prodpatterns.backfill``) for the tables' owner alone.
"""

from __future__ import annotations

import json
from typing import Any

from .constraints import _SQLConstraint, ensure_context_functions
from .versioned import PostgresRunSQL, create_if_missing, in_schema, sql_file

__all__ = ["AuditTriggers", "PostgresRunSQL", "sql_file"]  # migrations import the last two

# The trigger function's current version (migration prodpatterns.0009 installs it),
# created by AuditTriggers when none exists yet.
AUDIT_FUNCTION = "audit_function_v4.sql"


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

    def table(self, model: Any) -> str:
        """The audited table's name."""
        return model._meta.db_table

    def create_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        table = quote(self.table(model))
        call = f"EXECUTE FUNCTION prodpatterns_audit({self._arguments(schema_editor)})"
        return [
            *ensure_context_functions(schema_editor.connection),
            create_if_missing(
                "prodpatterns_audit()",
                in_schema(sql_file(AUDIT_FUNCTION), schema_editor.connection),
            ),
            f"CREATE TRIGGER {quote(self.name + '_ins')} AFTER INSERT ON {table}"
            f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT {call}",
            f"CREATE TRIGGER {quote(self.name + '_upd')} AFTER UPDATE ON {table}"
            f" REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT {call}",
            f"CREATE TRIGGER {quote(self.name + '_del')} AFTER DELETE ON {table}"
            f" REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT {call}",
        ]

    def remove_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        table = quote(self.table(model))
        return [
            f"DROP TRIGGER IF EXISTS {quote(self.name + suffix)} ON {table}"
            for suffix in ("_ins", "_upd", "_del")
        ]


class ThroughAuditTriggers(AuditTriggers):
    """The capture triggers of a many-to-many link table between audited models.

    Carried by the model that declares the field (Django's auto-created link table has no
    constraints of its own). Adding and removing links writes ``create`` and ``delete``
    entries labelled with the link table's model (``app.Model_field``), whose snapshot
    names both ends; actor and tenant come from the context, as for any write.
    """

    path = "django_prodpatterns.db.audit.ThroughAuditTriggers"
    options = ("field", "label", "pk", "tenant", "redact", "ignore")

    def table(self, model: Any) -> str:
        return model._meta.get_field(self.field).remote_field.through._meta.db_table
