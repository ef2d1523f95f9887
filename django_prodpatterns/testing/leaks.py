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

The pytest plugin (:mod:`django_prodpatterns.testing.plugin`) provides the ``tenant_pair``
fixture: two tenants of the tenant model, on the application role's alias.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Any

from django.db import DatabaseError, connections, models, transaction
from django.db.models.expressions import DatabaseDefault

from ..context import tenant_context
from ..exceptions import ProdPatternsError

__all__ = ["assert_link_isolation", "assert_tenant_isolation"]


@contextmanager
def _must_fail(what: str, using: str, *errors: type[BaseException]) -> Any:
    """Run the block in a savepoint with deferred constraints checked at once; it must fail."""
    expected = errors or (DatabaseError, ProdPatternsError)
    try:
        with transaction.atomic(using=using):
            if connections[using].vendor == "postgresql":
                with connections[using].cursor() as cursor:
                    cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            yield
    except expected:
        return
    raise AssertionError(f"tenant leak: {what} succeeded")


def _raw(using: str, sql: str, params: list[Any]) -> Any:
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
        columns.append(quote(f.column))
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
    model: type[models.Model],
    make: Callable[[Any], models.Model],
    *,
    tenants: tuple[Any, Any],
    using: str = "default",
    reference: Callable[[models.Model], models.Model] | None = None,
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
        AssertionError: naming the first way a row leaked.
    """
    tenant_a, tenant_b = tenants
    opts = model._meta
    connection = connections[using]
    quote = connection.ops.quote_name
    table, pk_column = quote(opts.db_table), quote(opts.pk.column)
    if connection.vendor == "postgresql":
        _check_role(model, using)
    created: list[tuple[Any, models.Model]] = []
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
                    f"{quote(obj._meta.pk.column)} = %s",
                    [obj.pk],
                )


def _made_for(make: Callable[[Any], models.Model], tenant: Any) -> models.Model:
    """``make(tenant)`` with that tenant current, so rows it needs first (a parent to point
    at) are created in the tenant the new row is meant for, whatever is current outside."""
    with tenant_context(tenant):
        return make(tenant)


def _check_reads(model: Any, using: str, row_a: Any, row_b: Any, table: str, pk: str) -> None:
    scoped = model.objects.using(using)
    assert not scoped.filter(pk=row_b.pk).exists(), "tenant leak: objects sees B's row"
    assert scoped.filter(pk=row_a.pk).exists(), "objects does not see the current tenant's row"
    unscoped = model._base_manager.using(using)
    assert not unscoped.filter(pk=row_b.pk).exists(), "tenant leak: the base manager sees B's row"
    assert unscoped.count() == scoped.count(), "tenant leak: the base manager counts B's rows"
    assert _raw(using, f"SELECT count(*) FROM {table} WHERE {pk} = %s", [row_b.pk]) == (0,), (
        "tenant leak: raw SQL reads B's row"
    )
    assert _raw(using, f"SELECT count(*) FROM {table}", []) == (scoped.count(),), (
        "tenant leak: raw SQL counts B's rows"
    )


def _check_writes(
    model: Any, make: Any, using: str, row_b: Any, tenant_b: Any, table: str, pk: str
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
    intruder.tenant_id = getattr(tenant_b, "pk", tenant_b)
    with _must_fail("saving a row into tenant B through the ORM", using):
        intruder.save(using=using)
    intruder = _made_for(make, tenant_b)
    intruder.tenant_id = getattr(tenant_b, "pk", tenant_b)
    with _must_fail("inserting a row into tenant B with raw SQL", using, DatabaseError):
        _raw(using, *_insert_sql(intruder, using))


def _check_reference(reference: Any, row_b: Any, using: str, created: list, tenant_a: Any) -> None:
    child = reference(row_b)
    with _must_fail("referencing B's row from A through the ORM", using):
        child.save(using=using)
        created.append((tenant_a, child))
    child = reference(row_b)
    child.tenant_id = getattr(tenant_a, "pk", tenant_a)
    with _must_fail("referencing B's row from A with raw SQL", using, DatabaseError):
        _raw(using, *_insert_sql(child, using))


def _check_no_tenant(model: Any, make: Any, using: str, table: str, tenant_a: Any) -> None:
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
        orphan.tenant_id = getattr(tenant_a, "pk", tenant_a)
        with _must_fail("inserting without a tenant", using, DatabaseError):
            _raw(using, *_insert_sql(orphan, using))


def assert_link_isolation(
    model: type[models.Model],
    field: str,
    make_pair: Callable[[Any], tuple[models.Model, models.Model]],
    *,
    tenants: tuple[Any, Any],
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
    m2m = model._meta.get_field(field)
    through = m2m.remote_field.through
    connection = connections[using]
    quote = connection.ops.quote_name
    table = quote(through._meta.db_table)
    source_column = quote(through._meta.get_field(m2m.m2m_field_name()).column)
    target_column = quote(through._meta.get_field(m2m.m2m_reverse_field_name()).column)
    if connection.vendor == "postgresql":
        _check_role(through, using)
    pairs = {}
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
            with _must_fail("linking A's row to B's row with raw SQL", using, DatabaseError):
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
