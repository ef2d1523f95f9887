"""QuerySet behaviour, one mixin per pattern, and their composition into one manager.

Behaviour lives on the QuerySet so it holds for ``Model.objects.filter(...).update(...)``
chains as much as for ``Model.objects.update(...)``. Every mixin is inert on a model that
does not carry its pattern (see :mod:`django_prodpatterns.markers`), which is what lets one
:class:`PatternQuerySet` and one :class:`PatternManager` serve every combination of the
abstract models, in any inheritance order. Users compose their own::

    class OrderQuerySet(PatternQuerySet):
        def paid(self): ...

    class Order(TenantBaseModel):
        objects = PatternManager.from_queryset(OrderQuerySet)()
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Self, TypeVar, cast

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone

from .conf import app_settings
from .context import require_tenant_pk
from .deletion import restore, soft_delete
from .exceptions import ConflictError, TenantMismatch
from .markers import (
    DELETED_AT,
    TENANT_FIELD,
    UPDATED_AT,
    VERSION,
    alters_data,
    has_updated_at,
    is_soft_deletable,
    is_tenant_scoped,
    is_versioned,
    queryset_only,
)

if TYPE_CHECKING:
    from django.db.models import QuerySet as _QuerySetOf

    from .models.locking import VersionedModel
    from .models.tenancy import TenantModel
else:

    class _QuerySetOf:
        """For type checkers each mixin is a QuerySet of its model (``_QuerySetOf[M]``);
        at run time it stays a plain class mixed in before Django's QuerySet."""

        def __class_getitem__(cls, item: object) -> type:
            return cls


def rows_of(
    model: type[models.Model], using: str | None, keys: Iterable[object], tenants: Iterable[object]
) -> models.QuerySet:
    """The base manager's rows of ``model`` with these keys, in Citus mode named by their
    tenants too (``tenants``: those of the instances the keys come from).

    Citus routes a statement by its tenant, and refuses ``SELECT ... FOR UPDATE`` on a
    distributed table without it; on one server the keys alone are enough.
    """
    rows = model._base_manager.using(using).filter(pk__in=list(keys))
    found = {tenant for tenant in tenants if tenant is not None}
    if app_settings.citus and is_tenant_scoped(model) and found:
        rows = rows.filter(**{f"{TENANT_FIELD}_id__in": sorted(found, key=str)})
    return rows


_M = TypeVar("_M", bound=models.Model, covariant=True)


class TimestampedQuerySetMixin(_QuerySetOf[_M]):
    """Moves ``updated_at`` on ``update()`` and ``bulk_update()``.

    Plain Django only moves an ``auto_now`` field on ``Model.save()``; a bulk write that does
    not touch it leaves rows claiming an older modification time than they have.
    """

    @alters_data
    def update(self, **kwargs: Any) -> int:
        if has_updated_at(self.model):
            kwargs.setdefault(UPDATED_AT, timezone.now())
        return super().update(**kwargs)

    @alters_data
    def bulk_update(
        self, objs: Iterable[_M], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        objs, fields = list(objs), list(fields)
        if has_updated_at(self.model) and UPDATED_AT not in fields:
            now = timezone.now()
            for obj in objs:
                setattr(obj, UPDATED_AT, now)
            fields = [*fields, UPDATED_AT]
        return super().bulk_update(objs, fields, batch_size=batch_size)


class SoftDeleteQuerySetMixin(_QuerySetOf[_M]):
    """Soft delete for QuerySets: ``delete()`` marks rows, ``hard_delete()`` removes them.

    ``delete()`` keeps Django's return contract, ``(count, {label: count})``, counting every
    row the cascade marked. See :mod:`django_prodpatterns.deletion` for the cascade rules.
    """

    def alive(self) -> Self:
        """Rows that are not soft-deleted."""
        return self.filter(**{f"{DELETED_AT}__isnull": True})

    def dead(self) -> Self:
        """Rows that are soft-deleted."""
        return self.filter(**{f"{DELETED_AT}__isnull": False})

    @alters_data
    @queryset_only
    def delete(self) -> tuple[int, dict[str, int]]:
        if not is_soft_deletable(self.model):
            return super().delete()
        return soft_delete(self)

    @alters_data
    @queryset_only
    def hard_delete(self) -> tuple[int, dict[str, int]]:
        """Django's real delete (``pre_delete``/``post_delete`` fire, CASCADE removes rows)."""
        return models.QuerySet.delete(self)

    @alters_data
    def restore(self) -> tuple[int, dict[str, int]]:
        """Bring back the soft-deleted rows here and what their deletions took with them."""
        return restore(self)

    @alters_data
    @queryset_only
    async def ahard_delete(self) -> tuple[int, dict[str, int]]:
        return await sync_to_async(self.hard_delete)()

    @alters_data
    async def arestore(self) -> tuple[int, dict[str, int]]:
        return await sync_to_async(self.restore)()


class TenantQuerySetMixin(_QuerySetOf[_M]):
    """Tenant models: bulk creates take the current tenant; a row's tenant never moves."""

    @alters_data
    def bulk_create(self, objs: Iterable[_M], *args: Any, **kwargs: Any) -> list[_M]:
        objs = list(objs)
        if is_tenant_scoped(self.model):
            for obj in cast("list[TenantModel]", objs):
                obj._fill_tenant()
        return super().bulk_create(objs, *args, **kwargs)

    @alters_data
    def update(self, **kwargs: Any) -> int:
        if is_tenant_scoped(self.model) and (
            TENANT_FIELD in kwargs or f"{TENANT_FIELD}_id" in kwargs
        ):
            raise TenantMismatch(f"{self.model._meta.label}: a row's tenant cannot change.")
        return super().update(**kwargs)


# Set while bulk_update() writes versions it has checked itself (Django's bulk_update
# sends them through QuerySet.update()).
_writing_checked_versions: ContextVar[bool] = ContextVar("prodpatterns_bulk", default=False)


def refuse_version_write(model: type[models.Model]) -> ValueError:
    return ValueError(f"{model._meta.label}.{VERSION} is managed: do not write it.")


class VersionedQuerySetMixin(_QuerySetOf[_M]):
    """``update()`` bumps versions, so editors holding the old one conflict;
    ``bulk_update()`` checks each row's version; nobody writes ``version`` by hand."""

    @alters_data
    def update(self, **kwargs: Any) -> int:
        if not is_versioned(self.model) or _writing_checked_versions.get():
            return super().update(**kwargs)
        if VERSION in kwargs:
            raise refuse_version_write(self.model)
        kwargs[VERSION] = models.F(VERSION) + 1
        return super().update(**kwargs)

    @alters_data
    def bulk_update(
        self, objs: Iterable[_M], fields: Iterable[str], batch_size: int | None = None
    ) -> int:
        if not is_versioned(self.model):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        objs, fields = list(objs), list(fields)
        rows = cast("list[VersionedModel]", objs)
        if VERSION in fields:
            raise refuse_version_write(self.model)
        with transaction.atomic(using=self.db):
            tenants = [getattr(obj, f"{TENANT_FIELD}_id", None) for obj in rows]
            current = dict(
                rows_of(self.model, self.db, [obj.pk for obj in rows], tenants)
                .select_for_update()
                .values_list("pk", VERSION)
            )
            for obj in rows:
                if current.get(obj.pk) != obj.version:
                    raise ConflictError(type(obj), obj.pk, obj.version, current.get(obj.pk))
            for obj in rows:
                obj.version += 1
            token = _writing_checked_versions.set(True)
            try:
                return super().bulk_update(objs, [*fields, VERSION], batch_size=batch_size)
            except BaseException:
                for obj in rows:
                    obj.version -= 1
                raise
            finally:
                _writing_checked_versions.reset(token)


# django-stubs gives every QuerySet class an as_manager() returning a manager class of its
# own, so the mixins' ones cannot match this one's.
class PatternQuerySet(  # type: ignore[override]
    TenantQuerySetMixin[_M],
    SoftDeleteQuerySetMixin[_M],
    VersionedQuerySetMixin[_M],
    TimestampedQuerySetMixin[_M],
    models.QuerySet[_M],
):
    """Every pattern's QuerySet behaviour; each part acts only on models that carry it.

    The order matters for ``update()``: the tenant check refuses first, then the version
    bump and ``updated_at`` are added, then Django writes.
    """


ROWS = ("alive", "all", "deleted")


# Named, so that type checkers (django-stubs) see the methods it copies from the QuerySet.
_PatternManagerBase = models.Manager.from_queryset(PatternQuerySet)


class PatternManager(_PatternManagerBase[_M]):
    """The one manager of every pattern model: scoped by what the model carries.

    ``rows`` says which soft-delete state it shows: ``"alive"`` (``objects``), ``"all"``
    (``all_objects``) or ``"deleted"`` (``deleted_objects``); it is inert on models without
    soft delete. On tenant models every manager shows the current tenant's rows only and
    raises :class:`~django_prodpatterns.exceptions.TenantRequired` without one. Because the
    scope is read from the concrete model, it does not matter which abstract base's
    ``objects`` wins the inheritance.
    """

    def __init__(self, rows: str = "alive") -> None:
        if rows not in ROWS:
            raise ValueError(f"rows must be one of {', '.join(ROWS)}, not {rows!r}.")
        super().__init__()
        self.rows = rows

    def get_queryset(self) -> PatternQuerySet[_M]:
        # A PatternQuerySet (from_queryset): django-stubs only knows it is a QuerySet.
        queryset = cast("PatternQuerySet[_M]", super().get_queryset())
        return self._scoped(queryset, tenant=True)

    def _scoped(self, queryset: PatternQuerySet[_M], *, tenant: bool) -> PatternQuerySet[_M]:
        if tenant and is_tenant_scoped(self.model):
            queryset = queryset.filter(**{f"{TENANT_FIELD}_id": require_tenant_pk(self.model)})
        if is_soft_deletable(self.model) and self.rows != "all":
            queryset = queryset.alive() if self.rows == "alive" else queryset.dead()
        return queryset

    def cross_tenant(self) -> PatternQuerySet[_M]:
        """Every tenant's rows, through the cross-tenant alias (``ADMIN_DATABASE``) only.

        That alias connects as a role that PostgreSQL lets past row level security; on the
        application's alias the same query would still see one tenant. Deliberately easy
        to grep for.
        """
        if not is_tenant_scoped(self.model):
            raise TypeError(f"{self.model._meta.label} is not a tenant model.")
        alias = app_settings.ADMIN_DATABASE
        if not alias:
            raise ImproperlyConfigured(
                "cross_tenant() needs PRODPATTERNS['ADMIN_DATABASE']: a database alias whose "
                "role has BYPASSRLS (see manage.py prodpatterns roles)."
            )
        queryset = cast("PatternQuerySet[_M]", super().get_queryset())
        return self._scoped(queryset, tenant=False).using(alias)
