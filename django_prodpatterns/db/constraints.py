"""Migration-managed DDL for tenant isolation, carried as ``Meta.constraints``.

Riding on constraints makes the DDL ordinary migration state: ``makemigrations`` writes it,
``migrate`` applies and reverses it, ``sqlmigrate`` shows it. The constraints are added to
every concrete tenant model automatically (``models/tenancy.py``), and ``prodpatterns.E021``
reports a tenant model that lacks them anyway.

On databases other than PostgreSQL every statement here is skipped.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Self, cast

from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db import models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models import BaseConstraint

from .versioned import Template, required_statements, template

# What policies call for the current tenant: the signed context, verified (see signing.py).
TENANT_FUNCTION = "prodpatterns_tenant_id"


def current_tenant_sql(cast: str) -> str:
    """The current tenant as SQL of the column's type; NULL (no rows) when there is none.

    What version 1 of the tenant policy compares the tenant column with (for hand-written
    SQL and the bulk path's staging checks; the policy itself comes from its template).
    """
    return f"(SELECT {TENANT_FUNCTION}())::{cast}"


def _field(model: type[models.Model], name: str) -> models.Field:
    """``model``'s field ``name`` (a concrete field, where the caller uses this)."""
    return cast(models.Field, model._meta.get_field(name))


def _column(field: models.Field) -> str:
    """The field's column: every field these constraints name has one."""
    column = field.column
    assert column is not None, f"{field} has no column"
    return column


def _foreign_key(model: type[models.Model], name: str) -> models.ForeignKey:
    return cast(models.ForeignKey, model._meta.get_field(name))


def _is_postgresql(schema_editor: BaseDatabaseSchemaEditor) -> bool:
    return schema_editor.connection.vendor == "postgresql"


class _SQLConstraint(BaseConstraint):
    """A constraint whose whole effect is SQL statements run after the table exists.

    Its statements come from the template of ``kind`` at ``version`` (``sql/<kind>_v<N>.sql``),
    so a migration runs the SQL of the version it names, whatever later releases generate.
    A migration written before versions were named carries none: that is version 1. Models
    get ``current_version``; a new version makes ``makemigrations`` write a migration that
    moves the table to it.
    """

    path = ""
    kind = ""
    current_version = 1
    options: tuple[str, ...] = ()

    def __init__(self, *, name: str, version: int = 1, **options: object) -> None:
        super().__init__(name=name)
        self.version = version
        for key in self.options:
            setattr(self, key, options[key])

    @classmethod
    def current(cls, *, name: str, **options: object) -> Self:
        """The constraint as this release generates it for a model (its newest version)."""
        return cls(name=name, version=cls.current_version, **options)

    @property
    def template(self) -> Template:
        return template(self.kind, self.version)

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        """The template's placeholders (quoted names) for ``model``."""
        raise NotImplementedError

    def create_statements(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> list[str]:
        """What the ``requires`` section names (created when missing), then ``create``."""
        return [
            *required_statements(self.template.files("requires"), schema_editor.connection),
            *self.template.statements("create", self._rendered(model, schema_editor)),
        ]

    def _rendered(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        """The values ``create`` is filled with (a policy adds its condition)."""
        return self.values(model, schema_editor)

    def remove_statements(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> list[str]:
        return self.template.statements("remove", self.values(model, schema_editor))

    # Returning None (no SQL) is fine with Django's schema editor, not with django-stubs.
    def constraint_sql(  # type: ignore[override]
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> None:
        # Inside CREATE TABLE nothing is inlined: the statements run once the tables of the
        # migration exist (deferred SQL), which also covers many-to-many tables.
        if _is_postgresql(schema_editor):
            schema_editor.deferred_sql.extend(self.create_statements(model, schema_editor))

    def create_sql(  # type: ignore[override]  # None: no SQL, as for constraint_sql()
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> str | None:
        if not _is_postgresql(schema_editor):
            return None
        return self._joined(self.create_statements(model, schema_editor), schema_editor)

    def remove_sql(  # type: ignore[override]  # None: no SQL, as for constraint_sql()
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> str | None:
        if not _is_postgresql(schema_editor):
            return None
        return self._joined(self.remove_statements(model, schema_editor), schema_editor)

    # Citus forwards the text of a DDL command on a distributed table to the workers as it
    # came, and they refuse a text of several commands: such constraints run theirs one
    # at a time.
    one_statement_at_a_time = False

    def _joined(self, statements: list[str], schema_editor: BaseDatabaseSchemaEditor) -> str:
        """The statements as the one SQL text Django runs for Add/RemoveConstraint; with
        ``one_statement_at_a_time``, all but the last run here, each on its own."""
        if self.one_statement_at_a_time and statements:
            for statement in statements[:-1]:
                schema_editor.execute(statement, params=None)
            statements = statements[-1:]
        return ";\n".join(statements)

    def validate(
        self,
        model: type[models.Model],
        instance: models.Model,
        exclude: Collection[str] | None = None,
        using: str | None = None,
    ) -> None:
        return None

    def deconstruct(self) -> tuple[str, tuple[()], dict[str, object]]:
        options = {key: getattr(self, key) for key in self.options}
        return self.path, (), {"name": self.name, **options, "version": self.version}

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.deconstruct() == other.deconstruct()

    def __hash__(self) -> int:
        return hash(self.deconstruct()[0] + self.name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.deconstruct()[2]}>"


class _Policy(_SQLConstraint):
    """ENABLE + FORCE row level security on a table and create one policy on it."""

    options = ("field",)
    field: str  # the tenant column's field (RowLevelSecurity) or the many-to-many field

    def _rendered(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        values = self.values(model, schema_editor)
        return {**values, "condition": self.template.statement("condition", values)}

    def condition_sql(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> str:
        """The policy's ``USING`` and ``WITH CHECK`` condition (the drift check's yardstick)."""
        return self._rendered(model, schema_editor)["condition"]

    def rename_statements(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor, new_name: str
    ) -> list[str]:
        values = {
            **self.values(model, schema_editor),
            "new_name": schema_editor.quote_name(new_name),
        }
        return self.template.statements("rename", values)


class RowLevelSecurity(_Policy):
    """ENABLE and FORCE row level security, and one fail-closed tenant policy.

    ``USING`` and ``WITH CHECK`` are both ``<tenant column> = <current tenant>``, the
    current tenant being what the signed context says: no (verified) current tenant means
    no rows and no writes, and there is no OR/CASE arm for a cross-tenant role
    that would keep the planner off the tenant index. Cross-tenant access is a role with
    BYPASSRLS on its own database alias, never a setting. SQL: ``sql/tenant_policy_v<N>.sql``.
    """

    path = "django_prodpatterns.db.constraints.RowLevelSecurity"
    kind = "tenant_policy"

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        field = _field(model, self.field)
        quote = schema_editor.quote_name
        return {
            "table": quote(model._meta.db_table),
            "policy": quote(self.name),
            "column": quote(_column(field)),
            "cast": str(field.db_type(schema_editor.connection)),
        }


class ThroughRowLevelSecurity(_Policy):
    """Row level security for the auto-created table of a many-to-many between tenant models.

    The link table has no tenant column; its policy admits a link only when both ends are
    visible, and the ends' own policies make that "both in the current tenant".
    SQL: ``sql/link_policy_v<N>.sql``.
    """

    path = "django_prodpatterns.db.constraints.ThroughRowLevelSecurity"
    kind = "link_policy"

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        m2m = cast(models.ManyToManyField, model._meta.get_field(self.field))
        through = m2m.remote_field.through
        assert through is not None  # resolved before migrations run
        quote = schema_editor.quote_name
        values = {"table": quote(through._meta.db_table), "policy": quote(self.name)}
        names = (m2m.m2m_field_name(), m2m.m2m_reverse_field_name())
        ends = zip(("first", "second"), names, strict=True)
        for end, name in ends:
            fk = _foreign_key(through, name)
            values[f"{end}_table"] = quote(fk.related_model._meta.db_table)
            values[f"{end}_key"] = quote(_column(fk.target_field))
            values[f"{end}_column"] = quote(_column(fk))
        return values


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
    kind = "tenant_key"
    options = ("field", "tenant_field")
    field: str  # the foreign key
    tenant_field: str  # the tenant column's field, on both ends

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        """The template's placeholders; the field may be gone already when removing."""
        quote = schema_editor.quote_name
        values = {"table": quote(model._meta.db_table), "name": quote(self.name)}
        try:
            fk = _foreign_key(model, self.field)
        except FieldDoesNotExist:
            return values
        target = fk.related_model
        return {
            **values,
            "tenant_column": quote(_column(_field(model, self.tenant_field))),
            "column": quote(_column(fk)),
            "target_table": quote(target._meta.db_table),
            "target_tenant_column": quote(_column(_field(target, self.tenant_field))),
            "target_column": quote(_column(fk.target_field)),
        }

    def constraint_sql(  # type: ignore[override]  # see _SQLConstraint.constraint_sql()
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> None:
        super().constraint_sql(model, schema_editor)
        self._drop_single_column_key_later(schema_editor)

    def create_sql(  # type: ignore[override]  # see _SQLConstraint.create_sql()
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> str | None:
        sql = super().create_sql(model, schema_editor)
        self._drop_single_column_key_later(schema_editor)
        return sql

    def _drop_single_column_key_later(self, schema_editor: BaseDatabaseSchemaEditor) -> None:
        """Django creates a new model's foreign keys at the end of the migration (deferred
        SQL), after an AddConstraint has run: the redundant one goes after that."""
        if _is_postgresql(schema_editor):
            files = self.template.files("after")
            schema_editor.deferred_sql.extend(required_statements(files, schema_editor.connection))

    def remove_statements(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> list[str]:
        quote = schema_editor.quote_name
        table = quote(model._meta.db_table)
        statements = self.template.statements("remove", self.values(model, schema_editor))
        try:
            fk = _foreign_key(model, self.field)
        except FieldDoesNotExist:
            return statements  # the field goes too
        # Not in django-stubs: ForeignKey.db_constraint and the schema editor's private
        # _fk_constraint_name() and _create_fk_sql(), which Django's own foreign keys use.
        if fk.db_constraint:  # type: ignore[attr-defined]  # (a reference: Django's own key)
            suffix = "_fk_%(to_table)s_%(to_column)s"
            name = schema_editor._fk_constraint_name(model, fk, suffix)  # type: ignore[attr-defined]
            statements += [
                f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {name}",
                str(schema_editor._create_fk_sql(model, fk, suffix)),  # type: ignore[attr-defined]
            ]
        return statements

    def rename_statements(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor, new_name: str
    ) -> list[str]:
        values = {
            **self.values(model, schema_editor),
            "new_name": schema_editor.quote_name(new_name),
        }
        return self.template.statements("rename", values)

    def validate(
        self,
        model: type[models.Model],
        instance: models.Model,
        exclude: Collection[str] | None = None,
        using: str | None = None,
    ) -> None:
        """Model validation: the referenced row must belong to the instance's tenant."""
        if exclude and (self.field in exclude or self.tenant_field in exclude):
            return
        fk = _foreign_key(model, self.field)
        value = getattr(instance, fk.attname)
        tenant_id = getattr(instance, _field(model, self.tenant_field).attname)
        if value is None or tenant_id is None:
            return
        target = fk.related_model._base_manager.using(using or "default")
        lookup = {fk.target_field.attname: value, f"{self.tenant_field}_id": tenant_id}
        if not target.filter(**lookup).exists():
            raise ValidationError(
                {self.field: f"{fk.related_model._meta.verbose_name} {value} does not exist."},
                code="tenant",
            )
