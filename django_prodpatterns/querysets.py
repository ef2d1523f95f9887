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
