"""Creation and modification times on every row."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, Self

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..markers import CREATED_AT, UPDATED_AT, alters_data
from ..querysets import PatternManager


class TimestampedModel(models.Model):
    """Adds ``created_at`` and ``updated_at``.

    - Both are the same instant when a row is created.
    - ``updated_at`` moves on every ``save()``, including ``save(update_fields=[...])``, which
      plain ``auto_now`` silently misses, and on ``QuerySet.update()``/``bulk_update()``.
    - ``created_at`` is never rewritten by ``save()``: a stale instance or a form cannot
      change history. ``QuerySet.update(created_at=...)`` stays possible for deliberate
      back-fills.
    """

    created_at = models.DateTimeField(_("created at"), default=timezone.now, editable=False)
    updated_at = models.DateTimeField(_("updated at"), default=timezone.now, editable=False)

    objects = PatternManager()

    class Meta:
        abstract = True

    @alters_data
    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            # One instant for both, even when created_at was given explicitly.
            created_at: datetime | None = self.created_at  # None when given so
            self.updated_at = created_at or timezone.now()
        else:
            self.updated_at = timezone.now()
        update_fields = kwargs.get("update_fields")
        if update_fields:  # an empty list means "save nothing" and stays that way
            kwargs["update_fields"] = {*update_fields, UPDATED_AT} - {CREATED_AT}
        super().save(*args, **kwargs)

    def _do_update(
        self,
        base_qs: models.QuerySet[Self],
        using: str | None,
        pk_val: Any,
        values: Collection[tuple[models.Field, type[models.Model] | None, Any]],
        *args: Any,  # update_fields, forced_update (and returning_fields, Django 6.0+)
        **kwargs: Any,
    ) -> Any:  # True/False on Django 5.2, the returned rows on 6.0+
        # values holds (field, model, value) triples; an UPDATE never carries created_at.
        values = [value for value in values if value[0].attname != CREATED_AT]
        return super()._do_update(base_qs, using, pk_val, values, *args, **kwargs)
