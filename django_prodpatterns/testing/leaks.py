"""A leak-test kit for tenant models, and the pytest plugin that exposes it.

Call :func:`assert_tenant_isolation` in a test for each of your tenant models. It proves,
through the ORM and through raw SQL, that while tenant A is current, tenant B's rows cannot
be read, counted, updated, deleted, inserted into or referenced, and that with no tenant
there are no rows and no writes::

    @pytest.mark.django_db(transaction=True, databases=["default", "app"])
    def test_orders_are_isolated(tenant_pair):
        assert_tenant_isolation(Order, lambda tenant: Order(number="1"), tenants=tenant_pair,
                                using="app")

``using`` must connect as your application role: a superuser, a BYPASSRLS role or the
table owner would pass every read check for the wrong reason, so the kit refuses them.
Rows it creates are removed again, each under its own tenant.

A write the kit tries across tenants must be refused, and refused by isolation: row level
security, a (tenant, key) foreign key or the ORM's ``TenantMismatch``. Any other error (a
missing privilege, an unrelated constraint, a bug in ``make``) proves nothing, so it fails
the test too, with an ``AssertionError`` that starts with ``leak test inconclusive:`` and
names the write and the error.

The pytest plugin (:mod:`django_prodpatterns.testing.plugin`) provides the ``tenant_pair``
fixture: two tenants of the tenant model, on the application role's alias.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeAlias, cast

from django.db import DatabaseError, connections, models, transaction
from django.db.models.expressions import DatabaseDefault

from ..context import TenantKey, tenant_context
from ..exceptions import ProdPatternsError, TenantMismatch
from ..markers import TENANT_FIELD

if TYPE_CHECKING:
    from ..models.tenancy import TenantModel

# A tenant, as tenant_context() takes it: a row of the tenant model, or its key.
TenantRef: TypeAlias = models.Model | TenantKey

__all__ = ["assert_link_isolation", "assert_tenant_isolation"]


# What may stop a write the kit tries, because only these say that isolation stopped it.
# Anything else (a typo in SQL, an unrelated NOT NULL, a missing GRANT, a TypeError) would
# make a check pass while proving nothing, so it fails the test instead.
_RLS_VIOLATION = "42501"  # insufficient_privilege, raised by the function below for RLS
_WITH_CHECK_FUNCTION = "ExecWithCheckOptions"  # PostgreSQL's executor: policies' WITH CHECK
# Citus raises a worker's error again on the coordinator from this function of its own.
_CITUS_RELAY_FUNCTION = "ReportResultError"
_FOREIGN_KEY_VIOLATION = "23503"
_ISOLATION_ERRORS = (
    "a row-level security violation (SQLSTATE 42501), a foreign key violation (SQLSTATE 23503)"
    " or TenantMismatch"
)


def _sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error: Django's wrapper keeps the driver's as its cause."""
    for error in (exc, exc.__cause__):
        code = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
        if code:
            return str(code)
    return None


def _source_function(exc: BaseException) -> str | None:
    """The server function that raised a database error (never translated, unlike the
    message): psycopg's diagnostics, kept by Django's wrapper as the cause."""
    for error in (exc, exc.__cause__):
        diag = getattr(error, "diag", None)
        if diag is not None and getattr(diag, "source_function", None):
            return str(diag.source_function)
    return None


def _proves_isolation(exc: BaseException) -> bool:
    """True for the errors that stop a cross-tenant write:

    - row level security's ``WITH CHECK``: ``new row violates row-level security policy``
      (SQLSTATE 42501, which alone also means a missing privilege). What tells them apart
      is the server function that raised it, ``ExecWithCheckOptions``, which is the same
      whatever language the server's messages are in; a driver without diagnostics, or
      Citus relaying a worker's error (which names its own function), falls back to the
      English message;
    - a foreign key violation (SQLSTATE 23503): the (tenant, key) foreign keys refuse a
      reference to another tenant's row;
    - :class:`~django_prodpatterns.exceptions.TenantMismatch`: the ORM refuses to save a
      row of another tenant than the current one.
    """
    if isinstance(exc, TenantMismatch):
        return True
    if not isinstance(exc, DatabaseError):
        return False
    state = _sqlstate(exc)
    if state == _FOREIGN_KEY_VIOLATION:
        return True
    if state != _RLS_VIOLATION:
        return False
    source = _source_function(exc)
    if source is not None and source != _CITUS_RELAY_FUNCTION:
        return source == _WITH_CHECK_FUNCTION
    return "row-level security" in str(exc)


def _describe(exc: BaseException) -> str:
    """``module.Type (driver type, SQLSTATE xxxxx): message`` of an exception."""
    kind = f"{type(exc).__module__}.{type(exc).__qualname__}"
    details = []
    cause = exc.__cause__
    if cause is not None:
        details.append(f"{type(cause).__module__}.{type(cause).__qualname__}")
    state = _sqlstate(exc)
    if state:
        details.append(f"SQLSTATE {state}")
    if details:
        kind += f" ({', '.join(details)})"
    message = str(exc).strip()
    return f"{kind}: {message}" if message else kind


@contextmanager
def _must_fail(what: str, using: str) -> Iterator[None]:
    """Run the block in a savepoint with deferred constraints checked at once.

    It must fail, and with an error that proves isolation (:func:`_proves_isolation`).
    Success is a leak; any other error fails the test too, naming what was attempted and
    the error, for the check would otherwise pass having proved nothing.
    """
    try:
        with transaction.atomic(using=using):
            if connections[using].vendor == "postgresql":
                with connections[using].cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            yield
    except Exception as exc:
        if _proves_isolation(exc):
            return
        raise AssertionError(
            f"leak test inconclusive: {what} failed with {_describe(exc)}; only "
            f"{_ISOLATION_ERRORS} proves that isolation stopped it."
        ) from exc
    raise AssertionError(f"tenant leak: {what} succeeded")


def _raw(using: str, sql: str, params: list[Any]) -> Any:
    """The first row a query returns (a tuple of database values), or the rows a write
    counted."""
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone() if cursor.description else cursor.rowcount


def _insert_sql(obj: models.Model, using: str) -> tuple[str, list[Any]]:
    """A raw INSERT of ``obj``'s field values (auto keys, generated columns and database
    defaults left to the database, so only row level security can make it fail)."""
    connection = connections[using]
    quote = connection.ops.quote_name
    fields = [
        f
        for f in obj._meta.concrete_fields
        if not (f.primary_key and f.db_returning) and not getattr(f, "generated", False)
    ]
    columns, marks, values = [], [], []
    for f in fields:
        value = f.pre_save(obj, True)
        columns.append(quote(cast(str, f.column)))  # concrete: each has one
        if isinstance(value, DatabaseDefault):
            marks.append("DEFAULT")
        else:
            marks.append("%s")
            values.append(f.get_db_prep_save(value, connection))
    return (
        f"INSERT INTO {quote(obj._meta.db_table)} ({', '.join(columns)})"
        f" VALUES ({', '.join(marks)})",
        values,
    )


def _check_role(model: type[models.Model], using: str) -> None:
    table = model._meta.db_table
    # regclass parses its input as SQL: a mixed-case or reserved name must arrive quoted.
    row = _raw(
        using,
        "SELECT r.rolsuper, r.rolbypassrls, pg_has_role(current_user, c.relowner, 'USAGE')"
        " FROM pg_roles r, pg_class c WHERE r.rolname = current_user AND c.oid = %s::regclass",
        [connections[using].ops.quote_name(table)],
    )
    if any(row):
        raise AssertionError(
            f"alias {using!r} connects as a role that skips row level security on {table} "
            "(superuser, BYPASSRLS or owner): the leak test would prove nothing."
        )


def assert_tenant_isolation(
    model: type[TenantModel],
    make: Callable[[Any], TenantModel],
    *,
    tenants: tuple[TenantRef, TenantRef],
    using: str = "default",
    reference: Callable[[TenantModel], TenantModel] | None = None,
) -> None:
    """Prove that rows of ``model`` cannot leak between two tenants.

    Args:
        model: A concrete model built on ``TenantModel``.
        make: Given the tenant the row is meant for, returns a new, unsaved instance
            (``tenant`` itself may be left empty: it is filled in on save).
        tenants: Two saved tenants, A and B.
        using: The database alias of the application role.
        reference: Optional; given a row, returns an unsaved row of another tenant model
            that references it. The kit checks that A cannot reference B's row.

    Raises:
        AssertionError: naming the first way a row leaked (``tenant leak: ...``), or a write
            that failed for another reason than isolation (``leak test inconclusive: ...``).
    """
    tenant_a, tenant_b = tenants
    opts = model._meta
    connection = connections[using]
    quote = connection.ops.quote_name
    table, pk_column = quote(opts.db_table), quote(cast(str, opts.pk.column))
    if connection.vendor == "postgresql":
        _check_role(model, using)
    created: list[tuple[TenantRef, models.Model]] = []
    try:
        with tenant_context(tenant_b):
            row_b = make(tenant_b)
            row_b.save(using=using)
            created.append((tenant_b, row_b))
            rows_of_b = model.objects.using(using).count()
        with tenant_context(tenant_a):
            row_a = make(tenant_a)
            row_a.save(using=using)
            created.append((tenant_a, row_a))
            _check_reads(model, using, row_a, row_b, table, pk_column)
            _check_writes(model, make, using, row_b, tenant_b, table, pk_column)
            if reference is not None:
                _check_reference(reference, row_b, using, created, tenant_a)
        with tenant_context(tenant_b):
            assert model.objects.using(using).count() == rows_of_b, (
                "tenant leak: tenant B's rows changed while tenant A was current"
            )
        _check_no_tenant(model, make, using, table, tenant_a)
    finally:
        for tenant, obj in reversed(created):
            with tenant_context(tenant):
                _raw(
                    using,
                    f"DELETE FROM {quote(obj._meta.db_table)} WHERE "
                    f"{quote(cast(str, obj._meta.pk.column))} = %s",
                    [obj.pk],
                )


def _key(tenant: TenantRef) -> TenantKey:
    """The tenant's primary key (a key stays as it is)."""
    return tenant.pk if isinstance(tenant, models.Model) else tenant


def _made_for(make: Callable[[Any], TenantModel], tenant: TenantRef) -> TenantModel:
    """``make(tenant)`` with that tenant current, so rows it needs first (a parent to point
    at) are created in the tenant the new row is meant for, whatever is current outside."""
    with tenant_context(tenant):
        return make(tenant)


def _check_reads(
    model: type[TenantModel],
    using: str,
    row_a: TenantModel,
    row_b: TenantModel,
    table: str,
    pk: str,
) -> None:
    scoped = model.objects.using(using)
    assert not scoped.filter(pk=row_b.pk).exists(), "tenant leak: objects sees B's row"
    assert scoped.filter(pk=row_a.pk).exists(), "objects does not see the current tenant's row"
    unscoped = model._base_manager.using(using)
    assert not unscoped.filter(pk=row_b.pk).exists(), "tenant leak: the base manager sees B's row"
    # Every row of A's, soft-deleted ones too (which objects does not show, and the base
    # manager and raw SQL do): what an unfiltered count may see, and no more.
    own = unscoped.filter(**{f"{TENANT_FIELD}_id": row_a.tenant_id}).count()
    assert unscoped.count() == own, "tenant leak: the base manager counts B's rows"
    assert _raw(using, f"SELECT count(*) FROM {table} WHERE {pk} = %s", [row_b.pk]) == (0,), (
        "tenant leak: raw SQL reads B's row"
    )
    assert _raw(using, f"SELECT count(*) FROM {table}", []) == (own,), (
        "tenant leak: raw SQL counts B's rows"
    )


def _check_writes(
    model: type[TenantModel],
    make: Callable[[Any], TenantModel],
    using: str,
    row_b: TenantModel,
    tenant_b: TenantRef,
    table: str,
    pk: str,
) -> None:
    unscoped = model._base_manager.using(using)
    field = next(
        f
        for f in model._meta.concrete_fields
        if not f.primary_key and not f.is_relation and not getattr(f, "generated", False)
    )
    assert unscoped.filter(pk=row_b.pk).update(**{field.name: models.F(field.name)}) == 0, (
        "tenant leak: the ORM updated B's row"
    )
    assert _raw(using, f"UPDATE {table} SET {pk} = {pk} WHERE {pk} = %s", [row_b.pk]) == 0, (
        "tenant leak: raw SQL updated B's row"
    )
    assert models.QuerySet.delete(unscoped.filter(pk=row_b.pk))[0] == 0, (
        "tenant leak: the ORM deleted B's row"
    )
    assert _raw(using, f"DELETE FROM {table} WHERE {pk} = %s", [row_b.pk]) == 0, (
        "tenant leak: raw SQL deleted B's row"
    )
    intruder = _made_for(make, tenant_b)
    intruder.tenant_id = _key(tenant_b)
    with _must_fail("saving a row into tenant B through the ORM", using):
        intruder.save(using=using)
    intruder = _made_for(make, tenant_b)
    intruder.tenant_id = _key(tenant_b)
    with _must_fail("inserting a row into tenant B with raw SQL", using):
        _raw(using, *_insert_sql(intruder, using))


def _check_reference(
    reference: Callable[[TenantModel], TenantModel],
    row_b: TenantModel,
    using: str,
    created: list[tuple[TenantRef, models.Model]],
    tenant_a: TenantRef,
) -> None:
    child = reference(row_b)
    with _must_fail("referencing B's row from A through the ORM", using):
        child.save(using=using)
        created.append((tenant_a, child))
    child = reference(row_b)
    child.tenant_id = _key(tenant_a)
    with _must_fail("referencing B's row from A with raw SQL", using):
        _raw(using, *_insert_sql(child, using))


def _check_no_tenant(
    model: type[TenantModel],
    make: Callable[[Any], TenantModel],
    using: str,
    table: str,
    tenant_a: TenantRef,
) -> None:
    orphan = _made_for(make, tenant_a)
    with tenant_context(None):
        try:
            model.objects.using(using).count()
        except ProdPatternsError:
            pass
        else:
            raise AssertionError("objects answered without a current tenant")
        assert _raw(using, f"SELECT count(*) FROM {table}", []) == (0,), (
            "tenant leak: raw SQL without a tenant reads rows"
        )
        orphan.tenant_id = _key(tenant_a)
        with _must_fail("inserting without a tenant", using):
            _raw(using, *_insert_sql(orphan, using))


def assert_link_isolation(
    model: type[models.Model],
    field: str,
    make_pair: Callable[[Any], tuple[models.Model, models.Model]],
    *,
    tenants: tuple[TenantRef, TenantRef],
    using: str = "default",
) -> None:
    """Prove that the links of a many-to-many between tenant models stay in their tenant.

    Args:
        model: The tenant model that declares the many-to-many.
        field: The many-to-many field's name.
        make_pair: Given a tenant (current while it runs), saves and returns a
            (source, target) pair of that tenant.
        tenants: Two saved tenants, A and B.
        using: The database alias of the application role.
    """
    tenant_a, tenant_b = tenants
    m2m = cast(models.ManyToManyField, model._meta.get_field(field))
    through = m2m.remote_field.through
    assert through is not None  # resolved once the apps are ready
    connection = connections[using]
    quote = connection.ops.quote_name

    def column(name: str) -> str:
        return quote(cast(str, cast(models.Field, through._meta.get_field(name)).column))

    table = quote(through._meta.db_table)
    source_column = column(m2m.m2m_field_name())
    target_column = column(m2m.m2m_reverse_field_name())
    if connection.vendor == "postgresql":
        _check_role(through, using)
    pairs: dict[TenantRef, tuple[models.Model, models.Model]] = {}
    try:
        for tenant in tenants:
            with tenant_context(tenant):
                source, target = make_pair(tenant)
                getattr(source, field).add(target)
                pairs[tenant] = (source, target)
        source_a, _ = pairs[tenant_a]
        _, target_b = pairs[tenant_b]
        with tenant_context(tenant_a):
            assert _raw(using, f"SELECT count(*) FROM {table}", []) == (1,), (
                "tenant leak: raw SQL counts another tenant's links"
            )
            assert list(getattr(source_a, field).all()) == [pairs[tenant_a][1]], (
                "the link of the current tenant is not visible"
            )
            with _must_fail("linking A's row to B's row through the ORM", using):
                getattr(source_a, field).add(target_b)
            with _must_fail("linking A's row to B's row with raw SQL", using):
                _raw(
                    using,
                    f"INSERT INTO {table} ({source_column}, {target_column}) VALUES (%s, %s)",
                    [source_a.pk, target_b.pk],
                )
            assert (
                _raw(using, f"DELETE FROM {table} WHERE {target_column} = %s", [target_b.pk]) == 0
            ), "tenant leak: raw SQL deleted B's link"
        with tenant_context(None):
            assert _raw(using, f"SELECT count(*) FROM {table}", []) == (0,), (
                "tenant leak: raw SQL without a tenant reads links"
            )
    finally:
        for tenant, (source, target) in pairs.items():
            with tenant_context(tenant):
                getattr(source, field).clear()
                models.QuerySet.delete(type(source)._base_manager.using(using).filter(pk=source.pk))
                models.QuerySet.delete(type(target)._base_manager.using(using).filter(pk=target.pk))
