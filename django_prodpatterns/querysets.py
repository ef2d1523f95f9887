"""QuerySet behaviour, one mixin per pattern, composed into managers with ``from_queryset``.

Behaviour lives on the QuerySet so it holds for ``Model.objects.filter(...).update(...)``
chains as much as for ``Model.objects.update(...)``. Users compose their own managers::

    class ArticleQuerySet(TimestampedQuerySetMixin, models.QuerySet):
        def published(self): ...

    objects = models.Manager.from_queryset(ArticleQuerySet)()
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from asgiref.sync import sync_to_async
from django.db import models
from django.utils import timezone

UPDATED_AT = "updated_at"


class TimestampedQuerySetMixin:
    """Moves ``updated_at`` on ``update()`` and ``bulk_update()``.

    Plain Django only moves an ``auto_now`` field on ``Model.save()``; a bulk write that does
    not touch it leaves rows claiming an older modification time than they have.
    """

    def _has_updated_at(self) -> bool:
        return any(f.name == UPDATED_AT for f in self.model._meta.concrete_fields)

    def update(self, **kwargs: Any) -> int:
        if self._has_updated_at():
            kwargs.setdefault(UPDATED_AT, timezone.now())
        return super().update(**kwargs)

    update.alters_data = True

    def bulk_update(
        self, objs: Iterable[models.Model], fields: Sequence[str], batch_size: int | None = None
    ) -> int:
        objs = list(objs)
        if self._has_updated_at() and UPDATED_AT not in fields:
            now = timezone.now()
            for obj in objs:
                setattr(obj, UPDATED_AT, now)
            fields = [*fields, UPDATED_AT]
        return super().bulk_update(objs, fields, batch_size=batch_size)

    bulk_update.alters_data = True


class TimestampedQuerySet(TimestampedQuerySetMixin, models.QuerySet):
    """The QuerySet of :class:`~django_prodpatterns.models.TimestampedModel`."""


TimestampedManager = models.Manager.from_queryset(TimestampedQuerySet, "TimestampedManager")


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


class SoftDeleteQuerySet(SoftDeleteQuerySetMixin, TimestampedQuerySetMixin, models.QuerySet):
    """The QuerySet of :class:`~django_prodpatterns.models.SoftDeleteModel`.

    It includes the timestamp behaviour, which is inert on models without ``updated_at``, so
    a model that combines soft delete and timestamps gets both from either manager.
    """


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """``objects``: rows that are not soft-deleted."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().alive()


class DeletedManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    """``deleted_objects``: soft-deleted rows only."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().dead()


SoftDeleteManager = models.Manager.from_queryset(SoftDeleteQuerySet, "SoftDeleteManager")
