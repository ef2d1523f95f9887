"""The checks every project-owned tenant model must pass, whatever its key.

``tests/inttenants/shape.py`` and ``tests/chartenants/shape.py`` describe their models as
a :class:`Shape`; ``tests/swapped_tenant_checks.py`` runs these for the one in force. Each
runs in a child pytest with its own settings (``PRODPATTERNS_TENANT_MODEL`` is
process-wide), started by ``tests/test_swapped_tenants.py``; the file names keep the main
run from collecting them.

Everything runs through the ``app`` alias, the application role, so row level security
applies; the owner alias (``default``) only creates the test database and the actor.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from django.db import connections, models

from django_prodpatterns.context import audit_context, tenant_context
from django_prodpatterns.exceptions import ConflictError
from django_prodpatterns.models import AuditLog, get_tenant_model
from django_prodpatterns.testing import assert_link_isolation, assert_tenant_isolation
from tests.helpers import APP

DATABASES = ["default", APP]


@dataclass(frozen=True)
class Shape:
    """One test app: its tenant model and three tenant models.

    ``parent`` and ``child`` are ``TenantBaseModel`` + ``VersionedModel``, ``child`` has a
    CASCADE foreign key to ``parent``, and ``parent.<link>`` is a many-to-many to ``target``
    (an auto-created through table). The ``new_*`` callables return unsaved rows.
    """

    tenant_model: type[models.Model]
    tenant_key_type: str  # PostgreSQL's format_type() of the tenant's primary key column
    python_key_type: type  # the Python type of a tenant's pk
    parent: type[models.Model]
    child: type[models.Model]
    target: type[models.Model]
    link: str
    new_parent: Callable[[str], models.Model]
    new_child: Callable[[models.Model, str], models.Model]
    new_target: Callable[[str], models.Model]
    text_field: str  # a text field of ``parent`` that an update can change

    @property
    def tenant_models(self) -> tuple[type[models.Model], ...]:
        return (self.parent, self.child, self.target)

    def save(self, obj: models.Model) -> models.Model:
        obj.save(using=APP)
        return obj

    def cleanup(self, tenants: tuple[Any, Any]) -> None:
        """Really delete every row of the tenants, so that ``tenant_pair`` can delete them
        (the tenant foreign key is PROTECT, and soft-deleted rows still reference it)."""
        for tenant in tenants:
            with tenant_context(tenant):
                for model in self.tenant_models:  # the collector takes children and links
                    models.QuerySet.delete(model._base_manager.using(APP).all())


def column_type(table: str, column: str) -> str:
    """PostgreSQL's own name for a column's type, from the catalog."""
    with connections[APP].cursor() as cursor:
        cursor.execute(
            "SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a"
            " WHERE a.attrelid = %s::regclass AND a.attname = %s AND NOT a.attisdropped",
            [connections[APP].ops.quote_name(table), column],
        )
        row = cursor.fetchone()
    assert row is not None, f"{table} has no column {column}"
    return row[0]


# --- the checks ------------------------------------------------------------------------------


def check_the_tenant_model_is_swapped(shape: Shape, tenants: tuple[Any, Any]) -> None:
    assert get_tenant_model() is shape.tenant_model
    tenant_pk = shape.tenant_model._meta.pk
    assert column_type(shape.tenant_model._meta.db_table, tenant_pk.column) == (
        shape.tenant_key_type
    )
    for model in shape.tenant_models:
        field = model._meta.get_field("tenant")
        assert field.related_model is shape.tenant_model, model
        assert field.target_field is tenant_pk, model
        assert column_type(model._meta.db_table, field.column) == shape.tenant_key_type, model
    # The tenants the kit's fixture made are rows of the swapped model, keyed as it says.
    assert all(type(tenant) is shape.tenant_model for tenant in tenants)
    assert shape.tenant_model._base_manager.using(APP).filter(
        pk__in=[tenant.pk for tenant in tenants]
    ).count() == len(tenants)


def check_parent_isolation(shape: Shape, tenants: tuple[Any, Any]) -> None:
    assert_tenant_isolation(
        shape.parent,
        lambda tenant: shape.new_parent("p"),
        tenants=tenants,
        using=APP,
        reference=lambda parent: shape.new_child(parent, "c"),
    )


def check_child_isolation(shape: Shape, tenants: tuple[Any, Any]) -> None:
    parents = {}
    for tenant in tenants:
        with tenant_context(tenant):
            parents[tenant.pk] = shape.save(shape.new_parent("p"))
    assert_tenant_isolation(
        shape.child,
        lambda tenant: shape.new_child(parents[tenant.pk], "c"),
        tenants=tenants,
        using=APP,
    )


def check_link_isolation(shape: Shape, tenants: tuple[Any, Any]) -> None:
    def make_pair(tenant: Any) -> tuple[models.Model, models.Model]:
        return shape.save(shape.new_parent("p")), shape.save(shape.new_target("t"))

    assert_link_isolation(shape.parent, shape.link, make_pair, tenants=tenants, using=APP)


def alive_pks(model: type[models.Model]) -> set[Any]:
    return set(model.objects.using(APP).values_list("pk", flat=True))


def dead_pks(model: type[models.Model]) -> set[Any]:
    return set(model.deleted_objects.using(APP).values_list("pk", flat=True))


def check_soft_delete_and_restore(shape: Shape, tenants: tuple[Any, Any]) -> None:
    """A parent's soft delete takes its alive children; its restore brings back exactly
    those, not a child deleted on its own before; the other tenant is never touched."""
    a, b = tenants
    parent, child = shape.parent, shape.child
    parent_label, child_label = parent._meta.label, child._meta.label
    with tenant_context(b):
        other = shape.save(shape.new_parent("b"))
        other_child = shape.save(shape.new_child(other, "b"))
    with tenant_context(a):
        root = shape.save(shape.new_parent("a"))
        kept = {shape.save(shape.new_child(root, f"a{n}")).pk for n in range(2)}
        earlier = shape.save(shape.new_child(root, "deleted before"))
        assert earlier.delete(using=APP) == (1, {child_label: 1})

        assert root.delete(using=APP) == (3, {parent_label: 1, child_label: 2})
        assert root.is_deleted and root.version == 2
        assert alive_pks(parent) == set() and alive_pks(child) == set()
        assert dead_pks(child) == kept | {earlier.pk}

        assert root.restore(using=APP) == (3, {parent_label: 1, child_label: 2})
        assert not root.is_deleted and root.version == 3
        assert alive_pks(parent) == {root.pk}
        assert alive_pks(child) == kept
        assert dead_pks(child) == {earlier.pk}
    with tenant_context(b):
        assert alive_pks(parent) == {other.pk}
        assert alive_pks(child) == {other_child.pk}


def check_audit(shape: Shape, tenants: tuple[Any, Any], actor: Any) -> None:
    """A create and an update leave entries with the tenant's key as text, the actor and
    the reason; the other tenant cannot read them."""
    a, b = tenants
    label = shape.parent._meta.label
    with tenant_context(a):
        with audit_context(actor=actor, reason="opened by support"):
            row = shape.save(shape.new_parent("before"))
        with audit_context(actor=actor, reason="renamed on request"):
            setattr(row, shape.text_field, "after")
            row.save(using=APP)
        entries = list(
            AuditLog.objects.using(APP).filter(model=label, object_pk=str(row.pk)).order_by("id")
        )
        assert [(e.action, e.reason) for e in entries] == [
            ("create", "opened by support"),
            ("update", "renamed on request"),
        ]
        assert {(e.tenant_id, e.actor_id) for e in entries} == {(str(a.pk), str(actor.pk))}
        assert entries[0].snapshot["tenant_id"] == a.pk  # the key in its own JSON type
        assert entries[1].changes[shape.parent._meta.get_field(shape.text_field).column] == [
            "before",
            "after",
        ]
    with tenant_context(b):
        assert not AuditLog.objects.using(APP).filter(model=label).exists()


def check_stale_save_conflicts(shape: Shape, tenants: tuple[Any, Any]) -> None:
    a, _ = tenants
    column = shape.text_field
    with tenant_context(a):
        row = shape.save(shape.new_parent("first"))
        stale = shape.parent.objects.using(APP).get(pk=row.pk)
        setattr(row, column, "second")
        row.save(using=APP)
        setattr(stale, column, "lost update")
        with pytest.raises(ConflictError) as excinfo:
            stale.save(using=APP)
        assert (excinfo.value.pk, excinfo.value.expected, excinfo.value.current) == (
            row.pk,
            1,
            2,
        )
        fresh = shape.parent.objects.using(APP).get(pk=row.pk)
        assert (getattr(fresh, column), fresh.version) == ("second", 2)
