"""Set-based soft delete, restore and purge.

Soft delete walks the ``on_delete`` graph level by level and issues **one UPDATE per related
model per level**, driven by a subquery on the rows the previous level marked (they share
the operation's ``deletion_batch``). The number of queries depends on the shape of the
graph, never on the number of rows. Everything happens in one transaction with one
timestamp, and only ``deleted_at``, ``deletion_batch`` and (when the model has it)
``updated_at`` are written.

- CASCADE: soft-deletable children are marked; children that cannot be soft-deleted follow
  ``PRODPATTERNS["SOFT_DELETE_PLAIN_CHILDREN"]`` ("error" by default, "hard", "keep").
- PROTECT / RESTRICT: Django's ``ProtectedError`` / ``RestrictedError``; protectors that
  were soft-deleted before the operation do not count. A violation rolls the whole
  operation back.
- SET_NULL / SET_DEFAULT / SET() / DO_NOTHING: untouched, so a restore is exact.

Restore brings back rows of the selected deletion batches, level by level in the same way,
and never brings a row back while one of its soft-deletable CASCADE parents is still
deleted. Restored rows get the restore operation's id in ``deletion_batch``.

Given a ``tenant`` (the commands' ``--tenant``), soft delete, restore and purge touch and
consult that tenant's rows only, on every edge of the cascade: each statement on a tenant
model's rows says ``tenant_id = <tenant>``. Row level security says the same on the
application's connection, but a connection that bypasses it (the cross-tenant alias) has
nothing else, and edges can point into another tenant: a generic relation has no database
constraint at all, nor has a ForeignKey with ``db_constraint=False``, to a model without a
``(tenant, key)``, or from a tenant model to a shared one. The bound is a condition in
statements the cascade runs anyway, so it costs no query.
"""

from __future__ import annotations

import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, reduce
from operator import or_
from typing import TYPE_CHECKING, Any, cast

from django.db import IntegrityError, models, transaction
from django.db.models import Exists, F, Model, OuterRef, Q
from django.db.models.deletion import Collector
from django.db.models.expressions import Combinable
from django.db.models.functions import Cast
from django.utils import timezone

from . import signals
from .conf import app_settings
from .context import TenantKey, get_current_tenant_pk
from .exceptions import RestoreConflict, SoftDeleteCascadeError
from .markers import (
    DELETED_AT,
    DELETION_BATCH,
    TENANT_FIELD,
    UPDATED_AT,
    VERSION,
    has_updated_at,
    is_tenant_scoped,
    is_versioned,
)
from .relations import (
    Edge,
    cascade_parent_fields,
    child_edges,
    concrete_model_of,
    is_soft_deletable,
)

if TYPE_CHECKING:
    from django.contrib.contenttypes.fields import GenericRelation
    from django.utils.datastructures import _IndexableCollection  # django-stubs only

MAX_REPORTED = 100  # protected objects fetched for an error message
# Django 6.1 renamed transaction.savepoint() (deprecated) to savepoint_create().
savepoint_create = getattr(transaction, "savepoint_create", transaction.savepoint)


@dataclass
class DeletionRun:
    """One run of a soft delete or a restore, and what it did.

    ``batch`` is the id the run wrote into ``deletion_batch`` on every row it touched (a
    restore writes its own, new id), ``when`` its one timestamp, ``counts`` the rows per
    model label. (Formerly ``Operation``, which is Django's name for a migration
    operation; that name still imports, with a DeprecationWarning.)
    """

    batch: uuid.UUID
    when: datetime
    counts: Counter[str] = field(default_factory=Counter)
    models: dict[str, type[Model]] = field(default_factory=dict)

    def add(self, model: type[Model], count: int) -> None:
        if count:
            self.counts[model._meta.label] += count
            self.models[model._meta.label] = model

    def absorb(self, other: DeletionRun) -> None:
        """Count ``other``'s rows as this run's (a run over several tenants, one at a time)."""
        self.counts.update(other.counts)
        self.models.update(other.models)

    @property
    def result(self) -> tuple[int, dict[str, int]]:
        """Django's delete() contract: ``(total, {label: count})``."""
        return sum(self.counts.values()), dict(self.counts)

    def pks(self, using: str) -> dict[str, list[Any]]:
        """Primary keys of every touched row, one query per touched model."""
        return {
            label: list(
                model._base_manager.using(using)
                .filter(**{DELETION_BATCH: self.batch})
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            for label, model in self.models.items()
        }


# Former names: old imports keep working, with a warning, until they are removed.
_DEPRECATED = {
    "Operation": ("DeletionRun", "django_prodpatterns.deletion.DeletionRun"),
    "BATCH": ("DELETION_BATCH", "django_prodpatterns.markers.DELETION_BATCH"),
}


def __getattr__(name: str) -> Any:
    """Serve a former name with a DeprecationWarning (PEP 562)."""
    if name not in _DEPRECATED:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    new, where = _DEPRECATED[name]
    warnings.warn(
        f"django_prodpatterns.deletion.{name} is deprecated; use {where}.",
        DeprecationWarning,
        stacklevel=2,
    )
    return globals()[new]


def _in_tenant(model: type[models.Model], tenant: TenantKey | None) -> Q:
    """``tenant``'s rows of a tenant model; no condition for other models or without one."""
    if tenant is None or not is_tenant_scoped(model):
        return Q()
    return Q(**{f"{TENANT_FIELD}_id": tenant})


def _base(
    model: type[models.Model], using: str, tenant: TenantKey | None = None
) -> models.QuerySet[models.Model]:
    """Every row of ``model`` (base manager: deleted rows too), or only ``tenant``'s."""
    rows = model._base_manager.using(using)
    return rows.filter(_in_tenant(model, tenant)) if tenant is not None else rows


def _values(
    model: type[models.Model], deleted_at: datetime | None, batch: uuid.UUID, when: datetime
) -> dict[str, object]:
    """The columns a delete or restore writes: a stale editor of any row it touched
    conflicts, because versions move like ``updated_at`` does."""
    values: dict[str, object] = {DELETED_AT: deleted_at, DELETION_BATCH: batch}
    if has_updated_at(model):
        values[UPDATED_AT] = when
    if is_versioned(model):
        values[VERSION] = F(VERSION) + 1
    return values


def _edge_filter(
    edge: Edge,
    parent: type[models.Model],
    batch: uuid.UUID,
    using: str,
    tenant: TenantKey | None = None,
) -> Q:
    """Children of ``edge`` (of ``tenant``, if given) whose parent row carries ``batch``."""
    parents = _base(parent, using, tenant).filter(**{DELETION_BATCH: batch})
    return _children_of(edge, parent, parents, using, tenant)


def _children_of(
    edge: Edge,
    parent: type[models.Model],
    parents: models.QuerySet[models.Model],
    using: str,
    tenant: TenantKey | None = None,
) -> Q:
    """Children of ``edge`` whose parent row is one of ``parents`` (a subquery).

    With ``tenant``, only that tenant's children, whatever the kind of edge: the parents
    being in the tenant does not put the children there (see the module docstring).
    """
    return _edge_match(edge, parent, parents, using) & _in_tenant(edge.child, tenant)


def _edge_match(
    edge: Edge, parent: type[models.Model], parents: models.QuerySet[models.Model], using: str
) -> Q:
    if edge.generic:
        from django.contrib.contenttypes.models import ContentType

        relation = cast("GenericRelation", edge.field)
        object_id = cast(models.Field, edge.child._meta.get_field(relation.object_id_field_name))
        content_type = ContentType.objects.db_manager(using).get_for_model(
            parent, for_concrete_model=relation.for_concrete_model
        )
        return Q(
            **{
                relation.content_type_field_name: content_type,
                f"{object_id.attname}__in": parents.values_list(
                    Cast("pk", output_field=object_id.__class__()), flat=True
                ),
            }
        )
    target = edge.field.target_field.attname
    return Q(**{f"{edge.field.attname}__in": parents.values(target)})


def _parents_alive(
    model: type[models.Model], using: str, tenant: TenantKey | None = None
) -> Q | Combinable:
    """Rows none of whose soft-deletable CASCADE parents is deleted (of ``tenant``'s
    parents only, when given: a row's parent is in its tenant).

    Written as NOT EXISTS so PostgreSQL plans an anti-join (and a NULL key passes).
    """
    condition: Q | Combinable = Q()  # Q() & ~Exists(...) is the Exists
    for fk in cascade_parent_fields(model):
        dead_parent = _base(fk.related_model, using, tenant).filter(
            **{fk.target_field.attname: OuterRef(fk.attname), f"{DELETED_AT}__isnull": False}
        )
        condition &= ~Exists(dead_parent)
    return condition


def _tenants_of(
    model: type[models.Model], queryset: models.QuerySet[models.Model], tenant: TenantKey | None
) -> list[TenantKey | None]:
    """The tenants a cascade runs for, one after the other: the one given. In Citus mode a
    tenant model's cascade always names its tenant in every statement (Citus plans the
    joins of a cascade within one tenant only, and routes each statement to that tenant's
    shard): without one given, the current tenant, or else each tenant the rows of
    ``queryset`` belong to."""
    if tenant is not None or not (app_settings.citus and is_tenant_scoped(model)):
        return [tenant]
    current = get_current_tenant_pk()
    if current is not None:
        return [current]
    column = f"{TENANT_FIELD}_id"
    return sorted(queryset.order_by().values_list(column, flat=True).distinct(), key=str)


def _check_not_sliced(queryset: models.QuerySet[models.Model], verb: str) -> None:
    if queryset.query.is_sliced:
        raise TypeError(f"Cannot use 'limit' or 'offset' with {verb}().")


# --- soft delete ---------------------------------------------------------------------------


def soft_delete(
    queryset: models.QuerySet[models.Model], *, tenant: TenantKey | None = None
) -> tuple[int, dict[str, int]]:
    """Soft-delete the alive rows of ``queryset`` and cascade (see the module docstring).

    Args:
        queryset: The rows to delete.
        tenant: A tenant's primary key: touch and consult that tenant's rows of tenant
            models only, at every step of the cascade (None: no bound but the database's).
    """
    return soft_delete_operation(queryset, tenant=tenant).result


@contextmanager
def preview_transaction(using: str, *, preview: bool = True) -> Iterator[None]:
    """A transaction that is rolled back at its end when ``preview`` (else committed as
    usual): a soft delete or restore inside it runs for real, so what it reports (counts,
    batch id, the rows it reached, a conflict) is exactly what it would do, and nothing of
    it is kept. The admin's confirmation pages and the commands' ``--dry-run`` use it."""
    with transaction.atomic(using=using):
        yield
        if preview:
            transaction.set_rollback(True, using=using)


def soft_delete_operation(
    queryset: models.QuerySet[models.Model], *, tenant: TenantKey | None = None
) -> DeletionRun:
    """Like :func:`soft_delete`, returning the :class:`DeletionRun` (batch id, timestamp)."""
    _check_not_sliced(queryset, "delete")
    model, using = queryset.model, queryset.db
    run = DeletionRun(batch=uuid.uuid4(), when=timezone.now())
    with transaction.atomic(using=using):
        parts = [
            (
                t,
                queryset.filter(_in_tenant(model, t), **{f"{DELETED_AT}__isnull": True}).values(
                    "pk"
                ),
            )
            for t in _tenants_of(model, queryset, tenant)
        ]
        # PROTECT/RESTRICT are decided by reads before anything is written; only a
        # cascade too deep to unroll (see check_protected_before) is checked after
        # marking, inside this transaction, and rolled back with it.
        checked = {t: check_protected_before(model, roots, using, t) for t, roots in parts}
        if signals.pre_soft_delete.has_listeners(model):
            sid = savepoint_create(using=using)
            trial = DeletionRun(batch=run.batch, when=run.when)
            for t, roots in parts:
                trial.absorb(_mark_deleted(model, roots, run.batch, run.when, using, checked[t], t))
            pks = trial.pks(using)
            transaction.savepoint_rollback(sid, using=using)
            signals.pre_soft_delete.send(sender=model, batch=run.batch, pks=pks, using=using)
        for t, roots in parts:
            run.absorb(_mark_deleted(model, roots, run.batch, run.when, using, checked[t], t))
        if run.counts and signals.post_soft_delete.has_listeners(model):
            signals.post_soft_delete.send(
                sender=model, batch=run.batch, pks=run.pks(using), using=using
            )
    return run


def _mark_deleted(
    model: type[models.Model],
    roots: models.QuerySet[models.Model, Any],
    batch: uuid.UUID,
    when: datetime,
    using: str,
    checked: bool = False,
    tenant: TenantKey | None = None,
) -> DeletionRun:
    run = DeletionRun(batch=batch, when=when)
    rows = _base(model, using, tenant).filter(pk__in=roots)
    count = rows.update(**_values(model, when, batch, when))
    run.add(model, count)
    frontier = {concrete_model_of(model)} if count else set()
    while frontier:
        conditions: dict[type[models.Model], list[Q]] = {}
        for parent in frontier:
            for edge in child_edges(parent):
                if edge.on_delete is not models.CASCADE:
                    continue
                condition = _edge_filter(edge, parent, batch, using, tenant)
                if is_soft_deletable(edge.child):
                    conditions.setdefault(edge.child, []).append(condition)
                else:
                    _handle_plain_children(edge, condition, using, tenant)
        frontier = set()
        for child, child_conditions in conditions.items():
            count = (
                _base(child, using, tenant)
                .filter(reduce(or_, child_conditions), **{f"{DELETED_AT}__isnull": True})
                .update(**_values(child, when, batch, when))
            )
            run.add(child, count)
            if count:
                frontier.add(child)
    if not checked:
        _check_protected(run, using, tenant)
    return run


def _handle_plain_children(
    edge: Edge, condition: Q, using: str, tenant: TenantKey | None = None
) -> None:
    choice = app_settings.SOFT_DELETE_PLAIN_CHILDREN.get(edge.child._meta.label, "error")
    if choice == "keep":
        return
    rows = _base(edge.child, using, tenant).filter(condition)
    if choice == "hard":
        _hard_delete(rows, tenant=tenant)
    elif rows.exists():
        raise SoftDeleteCascadeError(
            f"Soft delete reaches {edge.child._meta.label} rows through {edge.name} "
            f"(on_delete=CASCADE), and {edge.child._meta.label} cannot be soft-deleted. "
            f'Set PRODPATTERNS["SOFT_DELETE_PLAIN_CHILDREN"]["{edge.child._meta.label}"] '
            'to "hard" or "keep", or make the model soft-deletable.'
        )


# --- PROTECT / RESTRICT, decided before the first write ----------------------------------

MAX_UNROLLED_LEVELS = 32  # deeper (or cyclic) data falls back to the check after marking


@dataclass(frozen=True)
class _Guard:
    """What the read-only walk of one model's cascade needs (computed once per model)."""

    edges: tuple[Edge, ...]  # PROTECT/RESTRICT edges out of the cascade, with their parent
    parents: tuple[type[models.Model], ...]  # parent model of each edge, in order
    # models whose cascaded rows a guard needs (and the way to them)
    walk: frozenset[type[models.Model]]
    cyclic: frozenset[type[models.Model]]  # walked models that can reach themselves: their
    # depth is data


def _cascade_children(model: type[models.Model]) -> set[type[models.Model]]:
    return {
        edge.child
        for edge in child_edges(model)
        if edge.on_delete is models.CASCADE and is_soft_deletable(edge.child)
    }


def _reachable(model: type[models.Model]) -> set[type[models.Model]]:
    seen: set[type[models.Model]] = set()
    todo = [model]
    while todo:
        for child in _cascade_children(todo.pop()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


@cache
def _guard(model: type[models.Model]) -> _Guard | None:
    """None when no PROTECT/RESTRICT edge hangs off ``model``'s cascade (the usual case,
    which then costs no query at all)."""
    model = concrete_model_of(model)
    cascade = {model} | _reachable(model)
    edges: list[Edge] = []
    parents: list[type[models.Model]] = []
    needed: set[type[models.Model]] = set()
    for parent in cascade:
        for edge in child_edges(parent):
            if edge.on_delete in (models.PROTECT, models.RESTRICT):
                edges.append(edge)
                parents.append(parent)
                needed.add(parent)
                if edge.on_delete is models.RESTRICT and edge.child in cascade:
                    needed.add(edge.child)
    if not edges:
        return None
    walk = {m for m in cascade if m in needed or _reachable(m) & needed}
    cyclic = {m for m in walk if m in _reachable(m)}
    return _Guard(tuple(edges), tuple(parents), frozenset(walk), frozenset(cyclic))


def check_protected_before(
    model: type[models.Model],
    roots: models.QuerySet[models.Model, Any],
    using: str,
    tenant: TenantKey | None = None,
) -> bool:
    """Raise ProtectedError/RestrictedError from reads alone, before the cascade writes.

    The rows the cascade will reach are unrolled level by level as nested subqueries, with
    no write, no row lock and no trigger work; then one query per PROTECT/RESTRICT edge
    looks for alive rows pointing into them. Where the model graph has a cycle (a tree),
    each level of the cyclic models costs one ``EXISTS``; past ``MAX_UNROLLED_LEVELS``
    levels the subqueries would grow too deep, and the check is left to the one after
    marking (returns False).

    With ``tenant``, the cascade and its protectors are that tenant's rows only.

    Returns:
        True when the check was made here (the cascade need not repeat it).
    """
    guard = _guard(model)
    if guard is None:
        return True
    if any(_hard_deleted(edge.child) for edge in guard.edges if edge.on_delete is models.RESTRICT):
        # Whether such a row goes in the same operation (and so gives way) depends on
        # Django's own delete of the plain children; the check after marking sees it.
        return False
    model = concrete_model_of(model)
    sets: dict[type[models.Model], list[models.QuerySet[models.Model]]] = {
        model: [_base(model, using, tenant).filter(pk__in=roots)]
    }
    frontier = [(model, sets[model][0])]
    for _level in range(MAX_UNROLLED_LEVELS + 1):
        if not frontier:
            break
        conditions: dict[type[models.Model], list[Q]] = {}
        for parent, rows in frontier:
            for edge in child_edges(parent):
                if (
                    edge.on_delete is models.CASCADE
                    and edge.child in guard.walk
                    and is_soft_deletable(edge.child)
                ):
                    condition = _children_of(edge, parent, rows, using, tenant)
                    conditions.setdefault(edge.child, []).append(condition)
        frontier = []
        for child, child_conditions in conditions.items():
            rows = _base(child, using, tenant).filter(
                reduce(or_, child_conditions), **{f"{DELETED_AT}__isnull": True}
            )
            if child in guard.cyclic and not rows.exists():
                continue
            sets.setdefault(child, []).append(rows)
            frontier.append((child, rows))
    else:
        return False
    for edge, parent in zip(guard.edges, guard.parents, strict=True):
        if parent not in sets:
            continue
        rows = _base(edge.child, using, tenant).filter(
            reduce(or_, [_children_of(edge, parent, s, using, tenant) for s in sets[parent]])
        )
        if is_soft_deletable(edge.child):
            rows = rows.filter(**{f"{DELETED_AT}__isnull": True})
        if edge.on_delete is models.RESTRICT and edge.child in sets:
            # RESTRICT gives way to a row that goes in the same cascade (Django's rule).
            rows = rows.exclude(reduce(or_, [Q(pk__in=s.values("pk")) for s in sets[edge.child]]))
        _raise_protected(edge, parent, list(rows[:MAX_REPORTED]))
    return True


def _hard_deleted(model: type[models.Model]) -> bool:
    """A plain model whose rows a soft delete removes for real (SOFT_DELETE_PLAIN_CHILDREN)."""
    if is_soft_deletable(model):
        return False
    return app_settings.SOFT_DELETE_PLAIN_CHILDREN.get(model._meta.label) == "hard"


def _raise_protected(edge: Edge, parent: type[models.Model], found: list[models.Model]) -> None:
    if not found:
        return
    error_class: type[models.ProtectedError | models.RestrictedError]
    error_class, kind = (
        (models.ProtectedError, "protected")
        if edge.on_delete is models.PROTECT
        else (models.RestrictedError, "restricted")
    )
    raise error_class(
        f"Cannot delete some instances of model {parent.__name__!r} because they are "
        f"referenced through {kind} foreign keys: {edge.name!r}.",
        set(found),
    )


def _check_protected(run: DeletionRun, using: str, tenant: TenantKey | None = None) -> None:
    """Raise Django's ProtectedError/RestrictedError for alive rows that reference marked
    rows (of ``tenant``'s, if given)."""
    for parent in list(run.models.values()):
        for edge in child_edges(parent):
            if edge.on_delete not in (models.PROTECT, models.RESTRICT):
                continue
            rows = _base(edge.child, using, tenant).filter(
                _edge_filter(edge, parent, run.batch, using, tenant)
            )
            if is_soft_deletable(edge.child):
                alive = Q(**{f"{DELETED_AT}__isnull": True})
                if edge.on_delete is models.PROTECT:  # being deleted now still protects
                    alive |= Q(**{DELETION_BATCH: run.batch})
                rows = rows.filter(alive)
            _raise_protected(edge, parent, list(rows[:MAX_REPORTED]))


# --- restore -------------------------------------------------------------------------------


def restore(
    queryset: models.QuerySet[models.Model], *, tenant: TenantKey | None = None
) -> tuple[int, dict[str, int]]:
    """Restore the deleted rows of ``queryset`` and what their batches took with them.

    With ``tenant``, only that tenant's rows of tenant models come back, even where a
    batch (of a delete across tenants) holds other tenants' rows too.
    """
    return restore_operation(queryset, tenant=tenant).result


def restore_operation(
    queryset: models.QuerySet[models.Model], *, tenant: TenantKey | None = None
) -> DeletionRun:
    """Like :func:`restore`, returning the :class:`DeletionRun`."""
    _check_not_sliced(queryset, "restore")
    model, using = queryset.model, queryset.db
    dead: models.QuerySet[models.Model, Any] = queryset.filter(**{f"{DELETED_AT}__isnull": False})
    run = DeletionRun(batch=uuid.uuid4(), when=timezone.now())
    progress: dict[str, Any] = {"tenant": tenant}  # "model" and "batches" as the restore goes
    try:
        with transaction.atomic(using=using):
            batches = list(dead.order_by().values_list(DELETION_BATCH, flat=True).distinct())
            if not batches:
                return run
            parts = [
                (t, dead.filter(_in_tenant(model, t)).values("pk"))
                for t in _tenants_of(model, dead, tenant)
            ]
            extra = {"batches": batches, "using": using}
            if signals.pre_restore.has_listeners(model):
                sid = savepoint_create(using=using)
                trial = DeletionRun(batch=run.batch, when=run.when)
                for t, roots in parts:
                    trial.absorb(_mark_restored(model, roots, batches, run, using, {}, t))
                pks = trial.pks(using)
                transaction.savepoint_rollback(sid, using=using)
                signals.pre_restore.send(sender=model, batch=run.batch, pks=pks, **extra)
            for t, roots in parts:
                progress["tenant"] = t
                run.absorb(_mark_restored(model, roots, batches, run, using, progress, t))
            if run.counts and signals.post_restore.has_listeners(model):
                signals.post_restore.send(
                    sender=model, batch=run.batch, pks=run.pks(using), **extra
                )
    except IntegrityError as exc:
        conflict = _find_conflict(
            progress.get("model"), progress.get("batches", []), using, progress["tenant"]
        )
        if conflict is None:
            raise
        raise RestoreConflict(conflict) from exc
    return run


def _mark_restored(
    model: type[models.Model],
    roots: models.QuerySet[models.Model, Any],
    batches: list[uuid.UUID],
    template: DeletionRun,
    using: str,
    progress: dict[str, Any],
    tenant: TenantKey | None = None,
) -> DeletionRun:
    run = DeletionRun(batch=template.batch, when=template.when)
    progress.update(model=model, batches=batches)
    values = _values(model, None, run.batch, run.when)
    rows = _base(model, using, tenant).filter(pk__in=roots)
    rows = rows.filter(_parents_alive(model, using, tenant))
    count = rows.update(**values)
    run.add(model, count)
    frontier = {concrete_model_of(model)} if count else set()
    while frontier:
        # A dead row of the batches comes back once all its CASCADE parents are alive. That
        # condition needs no join to "the rows restored just now" (whose fresh batch ids the
        # planner cannot estimate); generic children, whose parents no ForeignKey names,
        # are the exception and are driven by their parents' restore id.
        by_key: set[type[models.Model]] = set()
        generic: dict[type[models.Model], list[Q]] = {}
        for parent in frontier:
            for edge in child_edges(parent):
                if edge.on_delete is not models.CASCADE or not is_soft_deletable(edge.child):
                    continue
                if edge.generic:
                    condition = _edge_filter(edge, parent, run.batch, using, tenant)
                    generic.setdefault(edge.child, []).append(condition)
                else:
                    by_key.add(edge.child)
        frontier = set()
        for child in by_key | generic.keys():
            progress["model"] = child
            rows = _base(child, using, tenant).filter(
                _parents_alive(child, using, tenant),
                **{f"{DELETED_AT}__isnull": False, f"{DELETION_BATCH}__in": batches},
            )
            if child not in by_key:
                rows = rows.filter(reduce(or_, generic[child]))
            count = rows.update(**_values(child, None, run.batch, run.when))
            run.add(child, count)
            if count:
                frontier.add(child)
    return run


def _find_conflict(
    model: type[models.Model] | None,
    batches: list[uuid.UUID],
    using: str,
    tenant: TenantKey | None = None,
) -> str | None:
    """Describe an alive row that blocks restoring a row of ``batches`` (of ``tenant``'s, the
    only ones the restore tried) (or None)."""
    if model is None:
        return None
    dead = _base(model, using, tenant).filter(
        **{f"{DELETED_AT}__isnull": False, f"{DELETION_BATCH}__in": batches}
    )
    for constraint in model._meta.constraints:
        if not isinstance(constraint, models.UniqueConstraint) or not constraint.fields:
            continue
        names = list(constraint.fields)
        attnames = [cast(models.Field, model._meta.get_field(name)).attname for name in names]
        alive = _base(model, using).filter(**{f"{DELETED_AT}__isnull": True})
        if constraint.condition is not None:
            alive = alive.filter(constraint.condition)
        alive = alive.filter(**{a: OuterRef(a) for a in attnames})
        row = (
            dead.annotate(_alive_pk=alive.values("pk")[:1])
            .filter(Exists(alive))
            .values("pk", "_alive_pk", *attnames)
            .first()
        )
        if row:
            shown = ", ".join(f"{n}={row[a]!r}" for n, a in zip(names, attnames, strict=True))
            return (
                f"Cannot restore {model._meta.label} pk={row['pk']}: {shown} is taken by an "
                f"alive row (pk={row['_alive_pk']}) under constraint {constraint.name!r}. "
                "Nothing was restored."
            )
    return None


# --- purge ---------------------------------------------------------------------------------


def purge(
    queryset: models.QuerySet[models.Model],
    batch_size: int = 1000,
    progress: Callable[[int, int], object] | None = None,
    *,
    tenant: TenantKey | None = None,
) -> int:
    """Hard-delete the soft-deleted rows of ``queryset``, in chunks of ``batch_size`` rows.

    Each chunk is its own transaction and uses Django's real delete (so ``pre_delete`` and
    ``post_delete`` fire and CASCADE children go too), then sends ``post_purge``.

    Args:
        queryset: Rows to consider; alive rows in it are never touched.
        batch_size: Rows of ``queryset.model`` per chunk (Django's word for it, as in
            ``bulk_create()``; a *batch* elsewhere here is the id of a deletion).
        progress: Optional callable(done, total) called after each chunk.
        tenant: A tenant's primary key: Django's cascade deletes (and nulls, and counts as
            protectors) that tenant's rows of tenant models only (see :func:`_hard_delete`).

    Returns:
        The number of rows of ``queryset.model`` purged.
    """
    model, using = queryset.model, queryset.db
    tenants = _tenants_of(model, queryset, tenant)
    if tenants != [tenant]:  # Citus mode, without a tenant: one tenant after the other
        return sum(purge(queryset, batch_size, progress, tenant=t) for t in tenants)
    dead = queryset.filter(_in_tenant(model, tenant), **{f"{DELETED_AT}__isnull": False})
    dead = dead.order_by("pk")
    total = dead.count()
    done = 0
    while True:
        chunk = list(dead.values_list("pk", flat=True)[:batch_size])
        if not chunk:
            break
        with transaction.atomic(using=using):
            _hard_delete(_base(model, using, tenant).filter(pk__in=chunk), tenant=tenant)
            signals.post_purge.send(
                sender=model, pks={model._meta.label: chunk}, batch=None, using=using
            )
        done += len(chunk)
        if progress is not None:
            progress(done, total)
    return done


class _TenantBoundCollector(Collector):
    """Django's delete collector, held inside one tenant.

    Every set of related rows it finds (CASCADE children, rows to SET_NULL, protectors, and
    the rows of generic relations, which have no database constraint to stop it) is
    narrowed to ``tenant``'s rows where the related model is a tenant model.
    """

    def __init__(self, *args: Any, tenant: TenantKey | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def related_objects(
        self,
        related_model: type[models.Model],
        related_fields: Iterable[models.Field],
        objs: _IndexableCollection[models.Model],
    ) -> models.QuerySet[models.Model]:
        rows = super().related_objects(related_model, related_fields, objs)
        return rows.filter(_in_tenant(related_model, self.tenant))

    def collect(
        self, objs: _IndexableCollection[models.Model | None], *args: Any, **kwargs: Any
    ) -> None:
        if isinstance(objs, models.QuerySet):  # GenericRelation.bulk_related_objects()
            objs = objs.filter(_in_tenant(objs.model, self.tenant))
        super().collect(objs, *args, **kwargs)


def _hard_delete(
    rows: models.QuerySet[models.Model], *, tenant: TenantKey | None = None
) -> tuple[int, dict[str, int]]:
    """Django's real delete of ``rows``; with ``tenant``, its cascade stays in that tenant.

    A row of another tenant that references one of ``rows`` is left as it is, as row level
    security would leave it: through a generic relation it then names a missing row, and
    through a foreign key with a database constraint the delete fails.
    """
    if tenant is None:
        return models.QuerySet.delete(rows)
    rows = rows.order_by()
    collector = _TenantBoundCollector(using=rows.db, origin=rows, tenant=tenant)
    collector.collect(rows)
    return collector.delete()
