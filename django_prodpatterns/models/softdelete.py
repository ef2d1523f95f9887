"""Soft delete: rows are marked, not removed, and come back exactly as a batch."""

from __future__ import annotations

from collections.abc import Collection
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from typing import TYPE_CHECKING, Any, Self, cast

from asgiref.sync import sync_to_async
from django.db import models, router
from django.utils.translation import gettext_lazy as _

from ..deletion import restore_operation, soft_delete_operation
from ..markers import (
    DELETED_AT,
    SOFT_DELETE_FIELDS,
    UPDATED_AT,
    alters_data,
    has_updated_at,
    is_versioned,
)
from ..querysets import PatternManager

if TYPE_CHECKING:
    from ..deletion import DeletionRun
    from .locking import VersionedModel


class SoftDeleteModel(models.Model):
    """Adds ``deleted_at`` and ``deletion_batch``; ``delete()`` marks instead of removing.

    - ``objects``: alive rows; ``all_objects``: every row; ``deleted_objects``: dead rows.
      The base manager stays Django's plain one, so forward relations and hard deletes see
      every row.
    - ``delete()`` soft-deletes and cascades set-based, returning Django's
      ``(count, {label: count})``; ``hard_delete()`` really deletes; ``restore()`` brings the
      row back with what its deletion took.
    - ``save()`` never writes the soft-delete columns of an existing row, so saving a stale
      instance can neither resurrect a deleted row nor delete an alive one.
    - ``deletion_batch`` is the id shared by every row one operation touched: the delete
      that removed a dead row, or the restore that brought an alive row back.
    """

    deleted_at = models.DateTimeField(_("deleted at"), null=True, blank=True, editable=False)
    deletion_batch = models.UUIDField(
        _("deletion batch"), null=True, blank=True, editable=False, db_index=True
    )

    objects = PatternManager()
    all_objects = PatternManager(rows="all")
    deleted_objects = PatternManager(rows="deleted")

    prodpatterns_soft_delete = True  # markers.SOFT_DELETE_MARKER

    class Meta:
        abstract = True

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def _same_row(self, using: str | None) -> models.QuerySet[Self]:
        if self.pk is None:
            raise ValueError(
                f"{self._meta.object_name} object can't be deleted or restored because its "
                f"{self._meta.pk.attname} attribute is set to None."
            )
        using = using or router.db_for_write(self.__class__, instance=self)
        return type(self).all_objects.db_manager(using).filter(pk=self.pk)

    @alters_data
    def delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        """Soft-delete this row and cascade; returns ``(count, {label: count})``."""
        rows = self._same_row(using)
        with self._write_guard(rows.db):
            run = soft_delete_operation(rows)
        self._note(run, deleted_at=run.when)
        return run.result

    @alters_data
    def hard_delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        """Really delete the row (Django's delete, signals and CASCADE included)."""
        using = using or router.db_for_write(type(self), instance=self)
        with self._write_guard(using):
            return super().delete(using=using, keep_parents=keep_parents)

    @alters_data
    def restore(self, using: str | None = None) -> tuple[int, dict[str, int]]:
        """Bring the row back with what its deletion took; returns ``(count, {label: count})``."""
        rows = self._same_row(using)
        with self._write_guard(rows.db):
            run = restore_operation(rows)
        self._note(run, deleted_at=None)
        return run.result

    def _write_guard(self, using: str) -> AbstractContextManager[None]:
        """The version check of :class:`VersionedModel` when this model has it.

        Looked up on the instance rather than reached through ``super()``, so the check
        happens whichever of the two bases comes first.
        """
        guard = getattr(self, "version_checked", None)
        return guard(using) if guard else nullcontext()

    def _note(self, run: DeletionRun, deleted_at: datetime | None) -> None:
        """Mirror on this instance what a delete or restore wrote to its row."""
        if not run.counts.get(self._meta.label):
            return
        self.deleted_at, self.deletion_batch = deleted_at, run.batch
        if has_updated_at(self):  # the same rule as the write (deletion._values)
            setattr(self, UPDATED_AT, run.when)
        if is_versioned(self):
            cast("VersionedModel", self)._count_set_write()

    @alters_data
    async def ahard_delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        return await sync_to_async(self.hard_delete)(using=using, keep_parents=keep_parents)

    @alters_data
    async def arestore(self, using: str | None = None) -> tuple[int, dict[str, int]]:
        return await sync_to_async(self.restore)(using=using)

    def _do_update(
        self,
        base_qs: models.QuerySet[Self],
        using: str | None,
        pk_val: Any,
        values: Collection[tuple[models.Field, type[models.Model] | None, Any]],
        *args: Any,  # update_fields, forced_update (and returning_fields, Django 6.0+)
        **kwargs: Any,
    ) -> Any:  # True/False on Django 5.2, the returned rows on 6.0+
        values = [value for value in values if value[0].attname not in SOFT_DELETE_FIELDS]
        return super()._do_update(base_qs, using, pk_val, values, *args, **kwargs)


ALIVE = models.Q(**{f"{DELETED_AT}__isnull": True})


def alive_unique(*fields: str, name: str, **kwargs: Any) -> models.UniqueConstraint:
    """A unique constraint that counts only alive rows (``deleted_at IS NULL``).

    Use it in ``Meta.constraints`` instead of ``unique=True``, so that a soft-deleted row
    does not block a new row with the same value::

        constraints = [alive_unique("slug", name="shop_product_slug_alive_uniq")]
    """
    return models.UniqueConstraint(fields=list(fields), condition=ALIVE, name=name, **kwargs)


def alive_index(*fields: str, name: str, **kwargs: Any) -> models.Index:
    """A partial index over alive rows, so lists of alive rows skip the dead ones."""
    return models.Index(fields=list(fields), condition=ALIVE, name=name, **kwargs)
