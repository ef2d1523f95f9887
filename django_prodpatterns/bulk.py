"""Bulk writes at ``COPY`` speed that still obey every pattern.

PostgreSQL refuses ``COPY FROM`` into a table with row level security for a role subject
to it. So rows are streamed with ``COPY`` into a temporary staging table (no policies,
made by a function: the application role may not create temporary tables itself),
then moved with one ``INSERT ... SELECT``: the table's policy ``WITH CHECK`` judges every
row, the audit triggers record every row, and constraints apply as for any insert. Before
anything is sent, each row is checked in Python (unknown or missing fields, values of the
wrong type, another tenant) and the first bad row is named; the whole call is one
transaction, so a failure writes nothing. ::

    with tenant_context(shop):
        copy_insert(Product, [{"sku": "A-1", "name": "Mug", "price": "9.50"}, ...])
        result = upsert(Product, rows, unique_fields=["sku"], update_fields=["price"])
        result.inserted, result.updated
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import psycopg
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connections, models, router, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models.expressions import DatabaseDefault
from django.db.models.fields import NOT_PROVIDED
from django.utils import timezone

from .context import TenantKey, require_tenant_pk
from .db import signing
from .exceptions import BulkWriteError, TenantMismatch
from .markers import (
    TENANT_FIELD,
    TIMESTAMP_FIELDS,
    UPDATED_AT,
    VERSION,
    has_updated_at,
    is_tenant_scoped,
    is_versioned,
)

_T = TypeVar("_T")

# A row to write: field values by field name or attname (a related row's field takes the
# row or its key), or an unsaved instance of the model.
Row = dict[str, Any] | models.Model

ORDINAL = "prodpatterns_ordinal"  # the staging table's row number, which keeps input order
VALUES_ROWS = 1000  # rows per INSERT in Citus mode (see _Values)


@dataclass(frozen=True)
class UpsertResult:
    inserted: int
    updated: int


def copy_insert(model: type[models.Model], rows: Iterable[Row], *, using: str | None = None) -> int:
    """Insert ``rows`` (dicts of field values, or unsaved instances); returns the count."""
    using = using or router.db_for_write(model)
    prepared = _Rows(model, rows, using)
    with transaction.atomic(using=using), prepared.staged() as sources:
        insert = f"INSERT INTO {prepared.table} ({prepared.columns}) "
        return sum(prepared.execute(insert + source) for source in sources)


def upsert(
    model: type[models.Model],
    rows: Iterable[Row],
    *,
    unique_fields: Sequence[str],
    update_fields: Sequence[str],
    using: str | None = None,
) -> UpsertResult:
    """Insert ``rows``, or update the existing row with the same ``unique_fields``.

    ``unique_fields`` must match a unique constraint (``tenant`` is added on tenant models;
    a partial one such as ``alive_unique()`` counts). Only ``update_fields`` change on
    existing rows, plus ``updated_at`` and a bumped ``version`` where the model has them.
    """
    using = using or router.db_for_write(model)
    if not update_fields:
        raise ValueError("upsert() needs update_fields: the fields an existing row takes.")
    prepared = _Rows(model, rows, using)
    target = prepared.conflict_target(unique_fields)
    keys = {model._meta.get_field(name).name for name in target.fields}
    if clash := sorted(keys & {model._meta.get_field(name).name for name in update_fields}):
        raise ValueError(f"upsert(): {', '.join(clash)} identify the row and cannot be updated.")
    prepared.refuse_duplicate_keys(target.fields)
    quote = prepared.quote
    sets = [f"{quote(c)} = EXCLUDED.{quote(c)}" for c in map(prepared.column, update_fields)]
    if has_updated_at(model):
        sets.append(f"{quote(UPDATED_AT)} = EXCLUDED.{quote(UPDATED_AT)}")
    if is_versioned(model):
        sets.append(f"{quote(VERSION)} = {prepared.table}.{quote(VERSION)} + 1")
    conflict = ", ".join(quote(prepared.column(name)) for name in target.fields)
    on_conflict = f" ON CONFLICT ({conflict}){target.where} DO UPDATE SET {', '.join(sets)}"
    on_conflict += " RETURNING (xmax = 0)"  # xmax is 0 on a row this statement inserted
    with transaction.atomic(using=using), prepared.staged() as sources:
        insert = f"INSERT INTO {prepared.table} ({prepared.columns}) "
        flags = [
            flag for source in sources for flag in prepared.fetch(insert + source + on_conflict)
        ]
    inserted = sum(1 for (flag,) in flags if flag)
    return UpsertResult(inserted=inserted, updated=len(flags) - inserted)


def _column(field: models.Field) -> str:
    """A concrete field's column (only fields that are not concrete have none)."""
    return cast(str, field.column)


@dataclass(frozen=True)
class _ConflictTarget:
    fields: list[str]
    where: str


def _left_to_database(field: models.Field, given: list[dict[str, Any]]) -> bool:
    """True for a column with a database default (and no Python one) that no row gives."""
    return (
        field.db_default is not NOT_PROVIDED
        and field.default is NOT_PROVIDED
        and not any(field.attname in values for values in given)
    )


class _Rows:
    """The rows of one call, checked and converted, and the SQL around them."""

    def __init__(self, model: type[models.Model], rows: Iterable[Row], using: str) -> None:
        self.model = model
        self.connection = connections[using]
        self.quote = self.connection.ops.quote_name
        self.table = self.quote(model._meta.db_table)
        pk = model._meta.pk
        fields = [
            f
            for f in model._meta.concrete_fields
            if not (f is pk and isinstance(f, models.AutoField)) and not f.generated
        ]
        self.now = timezone.now()
        self.tenant: TenantKey | None = (
            require_tenant_pk(model) if is_tenant_scoped(model) else None
        )
        # Field lookups by name and attname, and the defaults prepared once per call (a
        # callable default, such as uuid4, is called per row): the per-row work is then
        # a dict lookup and one conversion per given value.
        self.by_key = {f.name: f for f in fields} | {f.attname: f for f in fields}
        given = [self._as_dict(index, row) for index, row in enumerate(rows)]
        # A column with a database default that no row gives is left out of the INSERT,
        # so PostgreSQL fills it in (db_default=Now() included).
        self.fields = [f for f in fields if not _left_to_database(f, given)]
        self.columns = ", ".join(self.quote(_column(f)) for f in self.fields)
        self.static = {f.attname: self._static_default(f) for f in self.fields}
        self.converted = [self._convert(index, values) for index, values in enumerate(given)]

    # --- checking the input -----------------------------------------------------------

    def _static_default(self, field: models.Field) -> object:
        if field.name in TIMESTAMP_FIELDS:
            return field.get_db_prep_save(self.now, self.connection)
        if field.default is not NOT_PROVIDED and not callable(field.default):
            return field.get_db_prep_save(field.get_default(), self.connection)
        if field.default is NOT_PROVIDED and field.null:
            return None
        return NOT_PROVIDED  # computed per row, or required

    def _as_dict(self, index: int, row: object) -> dict[str, Any]:
        if isinstance(row, self.model):
            values = {f.attname: getattr(row, f.attname) for f in self.by_key.values()}
            return {k: v for k, v in values.items() if not isinstance(v, DatabaseDefault)}
        if not isinstance(row, dict):
            raise BulkWriteError(f"Row {index}: expected a dict or a {self.model.__name__}.", index)
        values = {}
        for key, value in row.items():
            field = self.by_key.get(key)
            if field is None:
                raise BulkWriteError(
                    f"Row {index}: {self.model._meta.label} has no field {key!r} to write.", index
                )
            if isinstance(value, models.Model):
                value = value.pk
            values[field.attname] = value
        return values

    def _convert(self, index: int, values: dict[str, Any]) -> tuple[object, ...]:
        if self.tenant is not None:
            given = values.get(f"{TENANT_FIELD}_id")
            if given is not None and str(given) != str(self.tenant):
                raise TenantMismatch(
                    f"Row {index}: {self.model._meta.label} of tenant {given} while the "
                    f"current tenant is {self.tenant}; nothing was written."
                )
            values[f"{TENANT_FIELD}_id"] = self.tenant
        converted: list[object] = []
        for field in self.fields:
            if field.attname in values:
                converted.append(self._prepare(index, field, values[field.attname]))
            elif (value := self.static[field.attname]) is not NOT_PROVIDED:
                converted.append(value)
            elif field.default is not NOT_PROVIDED:
                converted.append(self._prepare(index, field, field.get_default()))
            elif field.db_default is not NOT_PROVIDED:
                converted.append(self._database_default(index, field))
            else:
                raise BulkWriteError(f"Row {index}: {field.name} is required.", index)
        return tuple(converted)

    def _database_default(self, index: int, field: models.Field) -> object:
        """A row without a value other rows give: the ``db_default`` when it is a constant."""
        default = field.db_default  # a plain value, or an expression
        if isinstance(default, models.Value):
            default = default.value
        if not hasattr(default, "resolve_expression"):
            return self._prepare(index, field, default)
        raise BulkWriteError(
            f"Row {index}: {field.name} is left to its database default, which is computed "
            "by the database, while other rows give a value: give it in every row or in none.",
            index,
        )

    def _prepare(self, index: int, field: models.Field, value: object) -> object:
        try:
            if value is not None:
                value = field.to_python(value)
            elif not field.null:
                raise ValidationError("this field cannot be null")
        except ValidationError as exc:
            raise BulkWriteError(
                f"Row {index}: {field.name}: {' '.join(exc.messages)}", index
            ) from None
        return field.get_db_prep_save(value, self.connection)

    def column(self, name: str) -> str:
        return _column(self._field(name))

    def _field(self, name: str) -> models.Field:
        return cast(models.Field, self.model._meta.get_field(name))

    def conflict_target(self, unique_fields: Sequence[str]) -> _ConflictTarget:
        names = list(unique_fields)
        if self.tenant is not None and TENANT_FIELD not in names:
            names.insert(0, TENANT_FIELD)
        wanted = {self.model._meta.get_field(n).name for n in names}
        opts = self.model._meta
        for field in opts.concrete_fields:
            if field.unique and {field.name} == wanted:
                return _ConflictTarget(names, "")
        for constraint in opts.constraints:
            if isinstance(constraint, models.UniqueConstraint) and set(constraint.fields) == wanted:
                if constraint.condition is None:
                    return _ConflictTarget(names, "")
                with self.connection.schema_editor(atomic=False, collect_sql=True) as editor:
                    # Django's own (private, not in django-stubs), as the constraint's DDL has it
                    condition = constraint._get_condition_sql(self.model, editor)  # type: ignore[attr-defined]
                return _ConflictTarget(names, f" WHERE {condition}")
        raise ValueError(
            f"upsert(): no unique constraint of {opts.label} covers exactly {sorted(wanted)}."
        )

    def refuse_duplicate_keys(self, names: Sequence[str]) -> None:
        positions = [self.fields.index(self._field(n)) for n in names]
        seen: dict[tuple[str, ...], int] = {}
        for index, row in enumerate(self.converted):
            key = tuple(str(row[p]) for p in positions)
            if key in seen:
                raise BulkWriteError(
                    f"Rows {seen[key]} and {index} have the same {', '.join(names)}; "
                    "nothing was written.",
                    index,
                )
            seen[key] = index

    # --- talking to PostgreSQL --------------------------------------------------------

    def staged(self) -> _Stage | _Values:
        """Where the INSERT reads the rows from: a staging table filled by COPY, or in
        Citus mode on a Citus database the rows themselves, as VALUES lists."""
        self.connection.ensure_connection()
        return _Values(self) if signing.binding_of(self.connection).citus else _Stage(self)

    def execute(self, sql: str) -> int:
        return self._run(sql, lambda cursor: cursor.rowcount)

    def fetch(self, sql: str) -> list[tuple[Any, ...]]:  # rows of the database's values
        return self._run(sql, lambda cursor: cursor.fetchall())

    def _run(self, sql: str, result: Callable[[CursorWrapper], _T]) -> _T:
        with self.connection.cursor() as cursor:
            try:
                cursor.execute(sql)
            except DatabaseError as exc:
                raise BulkWriteError(f"{self.model._meta.label}: {exc}".strip()) from exc
            return result(cursor)


class _Stage:
    """A staging table holding the rows, filled by COPY, dropped at commit.

    Made by the ``prodpatterns_stage`` function (migration 0003): the application role
    may not create temporary tables, and the function names the table itself.
    """

    def __init__(self, rows: _Rows) -> None:
        self.rows = rows

    def __enter__(self) -> list[str]:
        rows = self.rows
        with rows.connection.cursor() as cursor:
            cursor.execute(
                "SELECT prodpatterns_stage(%s::regclass, %s)",
                [rows.table, [f.column for f in rows.fields]],
            )
            (name,) = cursor.fetchone()
            copy_sql = f"COPY {name} ({rows.columns}, {ORDINAL}) FROM STDIN"
            try:
                with cursor.cursor.copy(copy_sql) as copy:
                    for ordinal, row in enumerate(rows.converted):
                        copy.write_row((*row, ordinal))
            except (DatabaseError, psycopg.Error) as exc:
                raise BulkWriteError(f"{rows.model._meta.label}: {exc}".strip()) from exc
        return [f"SELECT {rows.columns} FROM {name} ORDER BY {ORDINAL}"]

    def __exit__(self, *exc_info: object) -> None:
        return None  # ON COMMIT DROP: the table goes with the transaction


class _Values:
    """The rows as VALUES lists of ``VALUES_ROWS`` rows each, for Citus mode.

    Citus runs ``INSERT ... SELECT`` from a table that is not distributed by pulling the
    rows to the coordinator and copying them into the shards, which it refuses under row
    level security. A multi-row ``INSERT ... VALUES`` is routed as it is: all rows of one
    tenant go to that tenant's shard in one task, whose policy judges every row. The
    values are quoted by psycopg (client-side binding), never formatted in.
    """

    def __init__(self, rows: _Rows) -> None:
        self.rows = rows

    def __enter__(self) -> list[str]:
        rows = self.rows
        width = len(rows.fields)
        one = "(" + ", ".join(["%s"] * width) + ")"
        sources = []
        with rows.connection.cursor() as cursor:
            for start in range(0, len(rows.converted), VALUES_ROWS):
                chunk = rows.converted[start : start + VALUES_ROWS]
                template = "VALUES " + ", ".join([one] * len(chunk))
                params = [value for row in chunk for value in row]
                sources.append(_mogrify(cursor, template, params))
        return sources

    def __exit__(self, *exc_info: object) -> None:
        return None


def _mogrify(cursor: CursorWrapper, template: str, params: list[object]) -> str:
    """``template`` with ``params`` quoted in, as psycopg would send them."""
    client = psycopg.ClientCursor(cursor.cursor.connection)
    try:
        return client.mogrify(template, params)
    finally:
        client.close()
