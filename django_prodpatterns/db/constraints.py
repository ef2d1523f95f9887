"""Migration-managed DDL for tenant isolation, carried as ``Meta.constraints``.

Riding on constraints makes the DDL ordinary migration state: ``makemigrations`` writes it,
``migrate`` applies and reverses it, ``sqlmigrate`` shows it. The constraints are added to
every concrete tenant model automatically (``models/tenancy.py``), and ``prodpatterns.E021``
reports a tenant model that lacks them anyway.

On databases other than PostgreSQL every statement here is skipped.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import BaseConstraint

from .versioned import create_if_missing, in_schema, sql_file

# What policies call for the current tenant: the signed context, verified (see signing.py).
TENANT_FUNCTION = "prodpatterns_tenant_id"
# The versioned SQL of the signed context: its key store and its functions.
CONTEXT_KEY_STORE = "context_key_v1.sql"
CONTEXT_CACHE = "context_cache_v1.sql"
CONTEXT_FUNCTIONS = "context_functions_v3.sql"
# Drops a single-column foreign key made redundant by a (tenant, key) one.
SINGLE_COLUMN_FKS = "single_column_fks_v1.sql"


def current_tenant_sql(cast: str) -> str:
    """The current tenant as SQL of the column's type; NULL (no rows) when there is none.

    A scalar subquery, so PostgreSQL verifies the signed context once per statement (an
    InitPlan), and ``column = <this>`` can still use an index.
    """
    return f"(SELECT {TENANT_FUNCTION}())::{cast}"


def ensure_context_functions(connection: Any) -> list[str]:
    """Statements that create the signed context's key store and functions if missing.

    Policies and the audit trigger call those functions; a project's migrations may run
    before the app's own migration that installs them, so whatever creates a policy or an
    audit trigger makes sure they exist, never replacing a newer version.
    """
    return [
        in_schema(sql_file(CONTEXT_KEY_STORE), connection),
        sql_file(CONTEXT_CACHE),
        create_if_missing(
            f"{TENANT_FUNCTION}()", in_schema(sql_file(CONTEXT_FUNCTIONS), connection)
        ),
    ]


def _is_postgresql(schema_editor: Any) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class _SQLConstraint(BaseConstraint):
    """A constraint whose whole effect is SQL statements run after the table exists."""

    path = ""
    options: tuple[str, ...] = ()

    def __init__(self, *, name: str, **options: Any) -> None:
        super().__init__(name=name)
        for key in self.options:
            setattr(self, key, options[key])

    def create_statements(self, model: Any, schema_editor: Any) -> list[str]:
        raise NotImplementedError

    def remove_statements(self, model: Any, schema_editor: Any) -> list[str]:
        raise NotImplementedError

    def constraint_sql(self, model: Any, schema_editor: Any) -> None:
        # Inside CREATE TABLE nothing is inlined: the statements run once the tables of the
        # migration exist (deferred SQL), which also covers many-to-many tables.
        if _is_postgresql(schema_editor):
            schema_editor.deferred_sql.extend(self.create_statements(model, schema_editor))

    def create_sql(self, model: Any, schema_editor: Any) -> str | None:
        if not _is_postgresql(schema_editor):
            return None
        return ";\n".join(self.create_statements(model, schema_editor))

    def remove_sql(self, model: Any, schema_editor: Any) -> str | None:
        if not _is_postgresql(schema_editor):
            return None
        return ";\n".join(self.remove_statements(model, schema_editor))

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: Any = None) -> None:
        return None

    def deconstruct(self) -> tuple[str, tuple, dict[str, Any]]:
        kwargs = {"name": self.name, **{key: getattr(self, key) for key in self.options}}
        return self.path, (), kwargs

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.deconstruct() == other.deconstruct()

    def __hash__(self) -> int:
        return hash(self.deconstruct()[0] + self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.deconstruct()[2]}>"


class _Policy(_SQLConstraint):
    """ENABLE + FORCE row level security on a table and create one policy on it."""

    options = ("field",)

    def _parts(self, model: Any, schema_editor: Any) -> tuple[str, str, str]:
        """(quoted table, quoted policy name, the policy's condition)."""
        raise NotImplementedError

    def create_statements(self, model: Any, schema_editor: Any) -> list[str]:
        table, policy, condition = self._parts(model, schema_editor)
        return [
            *self.required_statements(schema_editor),
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY {policy} ON {table} USING ({condition}) WITH CHECK ({condition})",
        ]

    def required_statements(self, schema_editor: Any) -> list[str]:
        """What the policy's condition calls, created first when missing."""
        return []

    def condition_sql(self, model: Any, schema_editor: Any) -> str:
        """The policy's ``USING`` and ``WITH CHECK`` condition (the drift check's yardstick)."""
        return self._parts(model, schema_editor)[2]

    def remove_statements(self, model: Any, schema_editor: Any) -> list[str]:
        table, policy, _ = self._parts(model, schema_editor)
        return [
            f"DROP POLICY IF EXISTS {policy} ON {table}",
            f"ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY",
        ]

    def rename_statements(self, model: Any, schema_editor: Any, new_name: str) -> list[str]:
        table, policy, _ = self._parts(model, schema_editor)
        return [f"ALTER POLICY {policy} ON {table} RENAME TO {schema_editor.quote_name(new_name)}"]


class RowLevelSecurity(_Policy):
    """ENABLE and FORCE row level security, and one fail-closed tenant policy.

    ``USING`` and ``WITH CHECK`` are both ``<tenant column> = <current tenant>``, the
    current tenant being what the signed context says: no (verified) current tenant means
    no rows and no writes, and there is no OR/CASE arm for an admin
    that would keep the planner off the tenant index. Cross-tenant access is a role with
    BYPASSRLS on its own database alias, never a setting.
    """

    path = "django_prodpatterns.db.constraints.RowLevelSecurity"

    def required_statements(self, schema_editor: Any) -> list[str]:
        return ensure_context_functions(schema_editor.connection)

    def _parts(self, model: Any, schema_editor: Any) -> tuple[str, str, str]:
        field = model._meta.get_field(self.field)
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        condition = (
            f"{quote(field.column)} = {current_tenant_sql(field.db_type(schema_editor.connection))}"
        )
        return table, quote(self.name), condition


class ThroughRowLevelSecurity(_Policy):
    """Row level security for the auto-created table of a many-to-many between tenant models.

    The link table has no tenant column; its policy admits a link only when both ends are
    visible, and the ends' own policies make that "both in the current tenant".
    """

    path = "django_prodpatterns.db.constraints.ThroughRowLevelSecurity"

    def _parts(self, model: Any, schema_editor: Any) -> tuple[str, str, str]:
        m2m = model._meta.get_field(self.field)
        through = m2m.remote_field.through
        quote = schema_editor.quote_name
        table = quote(through._meta.db_table)
        checks = []
        for name in (m2m.m2m_field_name(), m2m.m2m_reverse_field_name()):
            fk = through._meta.get_field(name)
            target = fk.related_model
            checks.append(
                f"EXISTS (SELECT 1 FROM {quote(target._meta.db_table)} AS t"
                f" WHERE t.{quote(fk.target_field.column)} = {table}.{quote(fk.column)})"
            )
        return table, quote(self.name), " AND ".join(checks)


class TenantForeignKey(_SQLConstraint):
    """A foreign key over (tenant, key): a row can only reference its own tenant's rows.

    Referential checks ignore row level security, so a plain foreign key would accept (and
    so reveal) another tenant's primary key. The referenced table carries a unique
    constraint on (tenant, pk) for this to point at. It is the only foreign key on the
    column: Django's single-column one is dropped once this one exists (and put back when
    this one goes), because beside it an unused key and another tenant's key fail on
    different constraints, which tells a tenant which keys exist elsewhere.
    """

    path = "django_prodpatterns.db.constraints.TenantForeignKey"
    options = ("field", "tenant_field")

    def create_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        fk = model._meta.get_field(self.field)
        tenant = model._meta.get_field(self.tenant_field)
        target = fk.related_model
        target_tenant = target._meta.get_field(self.tenant_field)
        return [
            f"ALTER TABLE {quote(model._meta.db_table)} ADD CONSTRAINT {quote(self.name)}"
            f" FOREIGN KEY ({quote(tenant.column)}, {quote(fk.column)})"
            f" REFERENCES {quote(target._meta.db_table)}"
            f" ({quote(target_tenant.column)}, {quote(fk.target_field.column)})"
            " DEFERRABLE INITIALLY DEFERRED",
        ]

    def constraint_sql(self, model: Any, schema_editor: Any) -> None:
        super().constraint_sql(model, schema_editor)
        self._drop_single_column_key_later(schema_editor)

    def create_sql(self, model: Any, schema_editor: Any) -> str | None:
        sql = super().create_sql(model, schema_editor)
        self._drop_single_column_key_later(schema_editor)
        return sql

    def _drop_single_column_key_later(self, schema_editor: Any) -> None:
        """Django creates a new model's foreign keys at the end of the migration (deferred
        SQL), after an AddConstraint has run: the redundant one goes after that."""
        if _is_postgresql(schema_editor):
            schema_editor.deferred_sql.append(sql_file(SINGLE_COLUMN_FKS))

    def remove_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        statements = [f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quote(self.name)}"]
        try:
            fk = model._meta.get_field(self.field)
        except FieldDoesNotExist:
            return statements  # the field goes too
        if fk.db_constraint:  # the column keeps a reference: Django's own foreign key
            suffix = "_fk_%(to_table)s_%(to_column)s"
            name = schema_editor._fk_constraint_name(model, fk, suffix)
            statements += [
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}",
                str(schema_editor._create_fk_sql(model, fk, suffix)),
            ]
        return statements

    def rename_statements(self, model: Any, schema_editor: Any, new_name: str) -> list[str]:
        quote = schema_editor.quote_name
        return [
            f"ALTER TABLE {quote(model._meta.db_table)} RENAME CONSTRAINT {quote(self.name)}"
            f" TO {quote(new_name)}"
        ]

    def validate(self, model: Any, instance: Any, exclude: Any = None, using: Any = None) -> None:
        """Model validation: the referenced row must belong to the instance's tenant."""
        if exclude and (self.field in exclude or self.tenant_field in exclude):
            return
        fk = model._meta.get_field(self.field)
        value = getattr(instance, fk.attname)
        tenant_id = getattr(instance, model._meta.get_field(self.tenant_field).attname)
        if value is None or tenant_id is None:
            return
        target = fk.related_model._base_manager.using(using or "default")
        lookup = {fk.target_field.attname: value, f"{self.tenant_field}_id": tenant_id}
        if not target.filter(**lookup).exists():
            raise ValidationError(
                {self.field: f"{fk.related_model._meta.verbose_name} {value} does not exist."},
                code="tenant",
            )
