"""Audit capture as migration state: statement-level triggers with transition tables.

Every concrete audited model gets one ``AuditTriggers`` constraint (added automatically,
see ``models/audit.py``): AFTER INSERT, UPDATE and DELETE triggers, each FOR EACH STATEMENT
with transition tables, so a 10,000-row ``QuerySet.update()`` writes its 10,000 entries in
one INSERT ... SELECT, in the same transaction as the change. The shared trigger function
(``sql/audit_function_v<N>.sql``) reads the context channel's transaction-local settings.
The app's own migrations install each version of it; a constraint creates it only when it
does not exist yet, so it never replaces a newer version. From version 4 it also honours a
deliberate backfill (``django_prodpatterns.backfill``) for the tables' owner alone; version
5 is version 4 from a source that writes the log's INSERT once. The
triggers' own SQL is ``sql/audit_triggers_v<N>.sql``, at the version the migration names.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import cast

from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

from .constraints import _SQLConstraint
from .versioned import PostgresRunSQL, current_function_file, sql_file

# Migrations import the last two.
__all__ = ["AuditTriggers", "CitusAuditTriggers", "PostgresRunSQL", "sql_file"]

# The trigger function's current version (versioned.CURRENT_FUNCTIONS; the app's latest
# migration that ships a version, prodpatterns.0012, installs it).
AUDIT_FUNCTION = current_function_file("audit_function")
# The three triggers of an audited table are named after its constraint with these.
TRIGGER_SUFFIXES = ("_ins", "_upd", "_del")


class AuditTriggers(_SQLConstraint):
    """The three capture triggers of one audited table."""

    path = "django_prodpatterns.db.audit.AuditTriggers"
    kind = "audit_triggers"
    options: tuple[str, ...] = ("label", "pk", "tenant", "redact", "ignore")
    label: str  # the model's label, as entries name it
    pk: str  # the primary key's column
    tenant: str | None  # the tenant column; "" (or None) for a model without one
    redact: Sequence[str]  # columns whose values are never stored
    ignore: Sequence[str]  # columns whose change alone is no change

    def _arguments(self, schema_editor: BaseDatabaseSchemaEditor) -> str:
        values = [
            self.label,
            self.pk,
            self.tenant or "",
            json.dumps(sorted(self.redact)),
            json.dumps(sorted(self.ignore)),
        ]
        return ", ".join("'" + value.replace("'", "''") + "'" for value in values)

    def table(self, model: type[models.Model]) -> str:
        """The audited table's name."""
        return model._meta.db_table

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        quote = schema_editor.quote_name
        return {
            "table": quote(self.table(model)),
            "arguments": self._arguments(schema_editor),
            **{f"name{suffix}": quote(self.name + suffix) for suffix in TRIGGER_SUFFIXES},
        }


class CitusAuditTriggers(AuditTriggers):
    """The capture triggers of a tenant table distributed on Citus: row level.

    Citus runs a distributed table's triggers on its shards, where a statement trigger
    has no transition tables and may write only to a shard of the same tenant on the same
    node; so each row writes its entry into the log's shard of its tenant (the log is
    distributed beside the tenant tables: ``prodpatterns_private.distribute_log()``).
    Same entries, same arguments as :class:`AuditTriggers`. SQL:
    ``sql/citus_audit_triggers_v<N>.sql`` and ``sql/audit_row_function_v<N>.sql``.
    """

    path = "django_prodpatterns.db.audit.CitusAuditTriggers"
    kind = "citus_audit_triggers"
    one_statement_at_a_time = True


class ThroughAuditTriggers(AuditTriggers):
    """The capture triggers of a many-to-many link table between audited models.

    Carried by the model that declares the field (Django's auto-created link table has no
    constraints of its own). Adding and removing links writes ``create`` and ``delete``
    entries labelled with the link table's model (``app.Model_field``), whose snapshot
    names both ends; actor and tenant come from the context, as for any write.
    """

    path = "django_prodpatterns.db.audit.ThroughAuditTriggers"
    options = ("field", "label", "pk", "tenant", "redact", "ignore")
    field: str  # the many-to-many field

    def table(self, model: type[models.Model]) -> str:
        through = cast(
            models.ManyToManyField, model._meta.get_field(self.field)
        ).remote_field.through
        assert through is not None  # resolved before migrations run
        return through._meta.db_table
