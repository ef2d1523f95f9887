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

from collections.abc import Iterable, Sequence
from contextvars import ContextVar
from typing import Any

from asgiref.sync import sync_to_async
from django.core.exceptions import ImproperlyConfigured
from django.db import models, transaction
from django.utils import timezone

from .conf import app_settings
from .context import get_current_tenant_pk
from .exceptions import ConflictError, TenantMismatch, TenantRequired
from .markers import (
    TENANT_FIELD,
    UPDATED_AT,
    VERSION,
    has_updated_at,
    is_soft_deletable,
    is_tenant_scoped,
    is_versioned,
)


class TimestampedQuerySetMixin:
    """Moves ``updated_at`` on ``update()`` and ``bulk_update()``.

    Plain Django only moves an ``auto_now`` field on ``Model.save()``; a bulk write that does
    not touch it leaves rows claiming an older modification time than they have.
    """

    def update(self, **kwargs: Any) -> int:
        if has_updated_at(self.model):
            kwargs.setdefault(UPDATED_AT, timezone.now())
        return super().update(**kwargs)

    update.alters_data = True

    def bulk_update(
        self, objs: Iterable[models.Model], fields: Sequence[str], batch_size: int | None = None
    ) -> int:
        objs = list(objs)
        if has_updated_at(self.model) and UPDATED_AT not in fields:
            now = timezone.now()
            for obj in objs:
                setattr(obj, UPDATED_AT, now)
            fields = [*fields, UPDATED_AT]
        return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True


class SoftDeleteQuerySetMixin:
    """Soft delete for QuerySets: ``delete()`` marks rows, ``hard_delete()`` removes them.

    ``delete()`` keeps Django's return contract, ``(count, {label: count})``, counting every
    row the cascade marked. See :mod:`django_prodpatterns.deletion` for the cascade rules.
    """

    def alive(self) -> models.QuerySet:
        """Rows that are not soft-deleted."""
        return self.filter(deleted_at__isnull=True)

    def dead(self) -> models.QuerySet:
        """Rows that are soft-deleted."""
        return self.filter(deleted_at__isnull=False)

    def delete(self) -> tuple[int, dict[str, int]]:
        if not is_soft_deletable(self.model):
            return super().delete()
        from .deletion import soft_delete

        return soft_delete(self)

    delete.alters_data = True
    delete.queryset_only = True

    def hard_delete(self) -> tuple[int, dict[str, int]]:
        """Django's real delete (``pre_delete``/``post_delete`` fire, CASCADE removes rows)."""
        return models.QuerySet.delete(self)

    hard_delete.alters_data = True
    hard_delete.queryset_only = True

    def restore(self) -> tuple[int, dict[str, int]]:
        """Bring back the soft-deleted rows here and what their deletions took with them."""
        from .deletion import restore

        return restore(self)

    restore.alters_data = True

    async def ahard_delete(self) -> tuple[int, dict[str, int]]:
        return await sync_to_async(self.hard_delete)()

    ahard_delete.alters_data = True
    ahard_delete.queryset_only = True

    async def arestore(self) -> tuple[int, dict[str, int]]:
        return await sync_to_async(self.restore)()

    arestore.alters_data = True


def current_tenant_pk(model: type[models.Model]) -> Any:
    """The current tenant's primary key, or TenantRequired naming ``model``."""
    pk = get_current_tenant_pk()
    if pk is None:
        raise TenantRequired(
            f"{model._meta.label} is tenant-scoped and there is no current tenant: run the "
            "code inside tenant_context(tenant) (TenantMiddleware does it for requests)."
        )
    return pk


class TenantQuerySetMixin:
    """Tenant models: bulk creates take the current tenant; a row's tenant never moves."""

    def bulk_create(self, objs: Any, *args: Any, **kwargs: Any) -> list[models.Model]:
        objs = list(objs)
        if is_tenant_scoped(self.model):
            for obj in objs:
                obj._fill_tenant()
        return super().bulk_create(objs, *args, **kwargs)

    bulk_create.alters_data = True

    def update(self, **kwargs: Any) -> int:
        if is_tenant_scoped(self.model) and (
            TENANT_FIELD in kwargs or f"{TENANT_FIELD}_id" in kwargs
        ):
            raise TenantMismatch(f"{self.model._meta.label}: a row's tenant cannot change.")
        return super().update(**kwargs)

    update.alters_data = True


# Set while bulk_update() writes versions it has checked itself (Django's bulk_update
# sends them through QuerySet.update()).
_writing_checked_versions: ContextVar[bool] = ContextVar("prodpatterns_bulk", default=False)


def refuse_version_write(model: type[models.Model]) -> ValueError:
    return ValueError(f"{model._meta.label}.version is managed: do not write it.")


class VersionedQuerySetMixin:
    """``update()`` bumps versions, so editors holding the old one conflict;
    ``bulk_update()`` checks each row's version; nobody writes ``version`` by hand."""

    def update(self, **kwargs: Any) -> int:
        if not is_versioned(self.model) or _writing_checked_versions.get():
            return super().update(**kwargs)
        if VERSION in kwargs:
            raise refuse_version_write(self.model)
        kwargs[VERSION] = models.F(VERSION) + 1
        return super().update(**kwargs)

    update.alters_data = True

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        if not is_versioned(self.model):
            return super().bulk_update(objs, fields, batch_size=batch_size)
        objs = list(objs)
        if VERSION in fields:
            raise refuse_version_write(self.model)
        with transaction.atomic(using=self.db):
            current = dict(
                self.model._base_manager.using(self.db)
                .select_for_update()
                .filter(pk__in=[obj.pk for obj in objs])
                .values_list("pk", VERSION)
            )
            for obj in objs:
                if current.get(obj.pk) != obj.version:
                    raise ConflictError(type(obj), obj.pk, obj.version, current.get(obj.pk))
            for obj in objs:
                obj.version += 1
            token = _writing_checked_versions.set(True)
            try:
                return super().bulk_update(objs, [*fields, VERSION], batch_size=batch_size)
            except BaseException:
                for obj in objs:
                    obj.version -= 1
                raise
            finally:
                _writing_checked_versions.reset(token)

    bulk_update.alters_data = True


class PatternQuerySet(
    TenantQuerySetMixin,
    SoftDeleteQuerySetMixin,
    VersionedQuerySetMixin,
    TimestampedQuerySetMixin,
    models.QuerySet,
):
    """Every pattern's QuerySet behaviour; each part acts only on models that carry it.

    The order matters for ``update()``: the tenant check refuses first, then the version
    bump and ``updated_at`` are added, then Django writes.
    """


ROWS = ("alive", "all", "deleted")


class PatternManager(models.Manager.from_queryset(PatternQuerySet)):
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

    def get_queryset(self) -> models.QuerySet:
        return self._scoped(super().get_queryset(), tenant=True)

    def _scoped(self, queryset: models.QuerySet, *, tenant: bool) -> models.QuerySet:
        if tenant and is_tenant_scoped(self.model):
            queryset = queryset.filter(**{f"{TENANT_FIELD}_id": current_tenant_pk(self.model)})
        if is_soft_deletable(self.model) and self.rows != "all":
            queryset = queryset.alive() if self.rows == "alive" else queryset.dead()
        return queryset

    def cross_tenant(self) -> models.QuerySet:
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
        return self._scoped(super().get_queryset(), tenant=False).using(alias)
