"""Citus mode's generated DDL: which tables are distributed, which are reference tables.

With ``PRODPATTERNS["CITUS"] = True`` (see :mod:`.generated`) every concrete tenant model
gets a :class:`DistributedTable` (its primary key becomes ``(tenant, key)`` and the table
is distributed by its tenant column, colocated with the others), a swapped-in tenant model
gets a :class:`ReferenceTable`, and tenant policies take the form Citus accepts
(:class:`CitusRowLevelSecurity`: no subquery). Like every generated constraint they are
migration state, so ``makemigrations`` writes them and ``sqlmigrate`` shows them.

Order matters on Citus: a table tied to a reference table by a foreign key before it is
distributed becomes a "citus local" table, which cannot be distributed any more when it
has an identity column; and Citus refuses a single-column foreign key between distributed
tables. So a table created in a migration is laid out before any foreign key is added:
the layout statements go to the front of the migration's deferred SQL (Django adds
foreign keys there, after every table of the migration exists), in the order the tables
were created.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.models.expressions import Col
from django.db.models.lookups import Exact
from psycopg import sql as pgsql

from ..context import get_current_tenant_pk
from ..markers import TENANT_FIELD, TENANT_FIELD_MARKER, is_tenant_scoped
from .constraints import (
    RowLevelSecurity,
    TenantForeignKey,
    _field,
    _is_postgresql,
    _SQLConstraint,
)
from .versioned import current_function_file, in_schema, sql_file

__all__ = ["CitusRowLevelSecurity", "CitusTenantForeignKey", "DistributedTable", "ReferenceTable"]

# Attribute on a schema editor: how many layout statements lead its deferred SQL.
_LAYOUT_COUNT = "_prodpatterns_citus_layout"


def _literal(text: str) -> str:
    return pgsql.Literal(text).as_string(None)


class _Layout(_SQLConstraint):
    """A table's layout on Citus: statements that run before the migration's foreign keys."""

    one_statement_at_a_time = True

    def constraint_sql(  # type: ignore[override]  # see _SQLConstraint.constraint_sql()
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> None:
        """A new table: laid out before the foreign keys Django adds at the end."""
        if not _is_postgresql(schema_editor):
            return
        at = getattr(schema_editor, _LAYOUT_COUNT, 0)
        statements = self.create_statements(model, schema_editor)
        schema_editor.deferred_sql[at:at] = statements
        setattr(schema_editor, _LAYOUT_COUNT, at + len(statements))
        self._after_foreign_keys(schema_editor)

    def create_sql(  # type: ignore[override]  # see _SQLConstraint.create_sql()
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> str | None:
        sql = super().create_sql(model, schema_editor)
        if _is_postgresql(schema_editor):
            self._after_foreign_keys(schema_editor)
        return sql

    def _after_foreign_keys(self, schema_editor: BaseDatabaseSchemaEditor) -> None:
        """The ``after`` section, once, at the end of the migration's deferred SQL."""
        for statement in self.template.statements("after", {}):
            if statement in schema_editor.deferred_sql:
                schema_editor.deferred_sql.remove(statement)
            schema_editor.deferred_sql.append(statement)


class DistributedTable(_Layout):
    """A tenant table distributed by its tenant column; primary key ``(tenant, key)``.

    Django's primary key stays the key column alone: rows are found by it within the
    current tenant, whose managers add the tenant column to every query (which is what
    routes a query to one shard). SQL: ``sql/citus_distributed_v<N>.sql``.
    """

    path = "django_prodpatterns.db.citus.DistributedTable"
    kind = "citus_distributed"
    options = ("field",)
    field: str  # the tenant field

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        quote = schema_editor.quote_name
        tenant = _field(model, self.field)
        tenant_model = tenant.related_model
        assert isinstance(tenant_model, type)  # a foreign key, resolved before migrations run
        return {
            "table_name": _literal(quote(model._meta.db_table)),
            "tenant_name": _literal(cast(str, tenant.column)),
            "key_name": _literal(cast(str, model._meta.pk.column)),
            "pk_name": _literal(self.name),
            "tenant_table_name": _literal(quote(tenant_model._meta.db_table)),
            "tenant_tables": _tenant_tables(model, quote),
        }


def _tenant_tables(model: type[models.Model], quote: Callable[[str], str]) -> str:
    """Every tenant table of the project as migrations know it when ``model``'s layout
    runs (each has a ``TenantField``), as an SQL array of their quoted names."""
    names = sorted(
        quote(other._meta.db_table)
        for other in model._meta.apps.get_models()
        if any(getattr(f, TENANT_FIELD_MARKER, False) for f in other._meta.local_fields)
    )
    return "ARRAY[" + ", ".join(_literal(name) for name in names) + "]::text[]"


class ReferenceTable(_Layout):
    """The tenant model as a reference table: a copy on every node.

    SQL: ``sql/citus_reference_v<N>.sql``.
    """

    path = "django_prodpatterns.db.citus.ReferenceTable"
    kind = "citus_reference"

    def values(
        self, model: type[models.Model], schema_editor: BaseDatabaseSchemaEditor
    ) -> dict[str, str]:
        return {"table_name": _literal(schema_editor.quote_name(model._meta.db_table))}


class CitusRowLevelSecurity(RowLevelSecurity):
    """:class:`~.constraints.RowLevelSecurity` in the form Citus accepts on a distributed
    table: the current tenant read by a direct call, not a scalar subquery (Citus refuses
    any subquery in such a policy). SQL: ``sql/citus_tenant_policy_v<N>.sql``."""

    path = "django_prodpatterns.db.citus.CitusRowLevelSecurity"
    kind = "citus_tenant_policy"
    one_statement_at_a_time = True


class CitusTenantForeignKey(TenantForeignKey):
    """:class:`~.constraints.TenantForeignKey` between distributed tables: checked at once.

    Citus checks a deferred key on the worker at commit, where a reference to another
    tenant's row fails with "could not commit transaction" instead of the foreign key
    violation (``SET CONSTRAINTS`` does not reach the workers). SQL:
    ``sql/citus_tenant_key_v<N>.sql``.
    """

    path = "django_prodpatterns.db.citus.CitusTenantForeignKey"
    kind = "citus_tenant_key"
    one_statement_at_a_time = True


# --- queries ----------------------------------------------------------------------------

# Attribute on a connection's features: grouping is adapted (see group_by_whole_rows()).
_WHOLE_ROWS = "_prodpatterns_group_by_whole_rows"


def group_by_whole_rows(connection: BaseDatabaseWrapper) -> None:
    """On a Citus connection, Django groups a tenant model's rows by all their selected
    columns, not by its primary key alone.

    Django shortens ``GROUP BY`` to a table's primary key when the database infers the
    other columns from it (PostgreSQL does); a distributed tenant table's primary key is
    ``(tenant, key)`` in the database, not Django's ``key``, so PostgreSQL refuses the
    short form ("must appear in the GROUP BY clause"). Set on the connection's own
    features object when it opens.
    """
    features = connection.features
    if features.__dict__.get(_WHOLE_ROWS):
        return
    by_key = features.allows_group_by_selected_pks_on_model

    def allows_group_by_selected_pks_on_model(model: type[models.Model]) -> bool:
        return by_key(model) and not is_tenant_scoped(model)

    features.allows_group_by_selected_pks_on_model = allows_group_by_selected_pks_on_model  # type: ignore[method-assign]
    features.__dict__[_WHOLE_ROWS] = True


def join_within_tenant(field: models.ForeignKey) -> None:
    """In Citus mode a join along ``field`` (between two tenant models) also matches the
    tenant columns of its two sides.

    Citus runs a join of distributed tables on one shard only when it can tell that both
    sides are in it: an outer join (``select_related`` of a nullable reference, a
    ``Count`` over a reverse one) must join on the distribution column as well. Django
    adds what a field's ``get_extra_restriction()`` returns to the join's ``ON``; here it
    is set on the field instance (its class, and so its migrations, stay the user's).
    """

    def get_extra_restriction(alias: str | None, related_alias: str | None) -> Exact | None:
        own = cast(models.Field, field.model._meta.get_field(TENANT_FIELD))
        if alias is None or related_alias is None:
            # A subquery pushed down (exclude() across a multi-valued relation), whose
            # other side is the outer query: its one table is held to the current tenant.
            # Both ends' tenant columns have one name, so either field names it.
            tenant = get_current_tenant_pk()
            inner = alias or related_alias
            return None if tenant is None or inner is None else Exact(Col(inner, own), tenant)
        target = field.related_model
        return Exact(
            Col(alias, cast(models.Field, target._meta.get_field(TENANT_FIELD))),
            Col(related_alias, own),
        )

    # django-stubs: Django compiles whatever responds to as_sql(); None is no condition.
    field.get_extra_restriction = get_extra_restriction  # type: ignore[method-assign,assignment]


# --- the signed context on the workers --------------------------------------------------

# What the workers need to verify the signed context in their own sessions: the key store
# and the functions the policies call, as the coordinator has them. Created on each
# worker only (not Citus objects: a function reading a Citus table from a shard's query
# is refused there), and the key written after every migrate.
_WORKER_FILES = ("context_key_v1.sql", "context_cache_v1.sql", "context_functions")


def worker_statements(connection: BaseDatabaseWrapper, key: str) -> str:
    """One command, for ``run_command_on_workers()``, that installs the context's key store
    and functions on a worker and runs ``key`` (the statement that writes the key)."""
    files = [
        current_function_file(name) if not name.endswith(".sql") else name for name in _WORKER_FILES
    ]
    parts = [
        "SET citus.enable_ddl_propagation TO off",
        *(in_schema(sql_file(name), connection).strip().rstrip(";") for name in files),
        key,
    ]
    return ";\n".join(parts)


def is_citus(connection: BaseDatabaseWrapper) -> bool:
    """Whether ``connection``'s database has the Citus extension."""
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_catalog.pg_extension WHERE extname = 'citus')"
        )
        (installed,) = cursor.fetchone()
    return bool(installed)


def install_on_workers(connection: BaseDatabaseWrapper, key: str) -> None:
    """Run :func:`worker_statements` on every worker; a failure on any is an error."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nodename, nodeport, success, result FROM run_command_on_workers(%s)",
            [worker_statements(connection, key)],
        )
        failed = [row for row in cursor.fetchall() if not row[2]]
    if failed:
        host, port, _, result = failed[0]
        raise RuntimeError(f"Installing the signed context's key on {host}:{port}: {result}")
