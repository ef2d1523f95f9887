"""Migration-managed DDL for tenant isolation, carried as ``Meta.constraints``.

Riding on constraints makes the DDL ordinary migration state: ``makemigrations`` writes it,
``migrate`` applies and reverses it, ``sqlmigrate`` shows it. The constraints are added to
every concrete tenant model automatically (``models/tenancy.py``), and ``prodpatterns.E021``
reports a tenant model that lacks them anyway.

On databases other than PostgreSQL every statement here is skipped.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import BaseConstraint

TENANT_SETTING = "prodpatterns.tenant_id"


def current_tenant_sql(cast: str) -> str:
    """The current tenant as SQL of the column's type; NULL (no rows) when none is set.

    ``current_setting(..., true)`` is STABLE, so ``column = <this>`` can use an index.
    """
    return f"nullif(current_setting('{TENANT_SETTING}', true), '')::{cast}"


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
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
            f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY",
            f"CREATE POLICY {policy} ON {table} USING ({condition}) WITH CHECK ({condition})",
        ]

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

    ``USING`` and ``WITH CHECK`` are both ``<tenant column> = <current tenant>``: no
    current tenant means no rows and no writes, and there is no OR/CASE arm for an admin
    that would keep the planner off the tenant index. Cross-tenant access is a role with
    BYPASSRLS on its own database alias, never a setting.
    """

    path = "django_prodpatterns.db.constraints.RowLevelSecurity"

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
    constraint on (tenant, pk) for this to point at.
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
            " DEFERRABLE INITIALLY DEFERRED"
        ]

    def remove_statements(self, model: Any, schema_editor: Any) -> list[str]:
        quote = schema_editor.quote_name
        return [
            f"ALTER TABLE {quote(model._meta.db_table)} DROP CONSTRAINT IF EXISTS"
            f" {quote(self.name)}"
        ]

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
