"""Optimistic locking: a stale write is a ConflictError, never a silent overwrite."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import Any, Self, TypeVar, cast

from django.db import models, router, transaction
from django.db.models.lookups import Exact
from django.db.models.sql.where import AND
from django.utils.translation import gettext_lazy as _

from ..exceptions import ConflictError
from ..markers import TENANT_FIELD, VERSION, alters_data
from ..querysets import PatternManager, refuse_version_write, rows_of

_M = TypeVar("_M", bound=models.Model)


def with_version(
    queryset: models.QuerySet[_M], field: models.Field, version: int
) -> models.QuerySet[_M]:
    """``queryset.filter(version=version)`` without the clone and the generic lookup
    resolution, which cost as much Python time as the rest of a save (a hot path).

    Only for the QuerySet ``Model._save_table`` builds for one save and hands to
    ``_do_update``: nothing else holds it, so it is narrowed in place.
    """
    query = queryset.query
    query.where.add(Exact(field.get_col(query.get_initial_alias()), version), AND)
    return queryset


class VersionedModel(models.Model):
    """Adds ``version``; saving, deleting or restoring a stale instance raises ConflictError.

    - A save of an existing row is one ``UPDATE ... WHERE pk = %s AND version = %s`` that
      bumps the version (no pre-select). Only when it matches no row does one SELECT find
      the current version for the error (a row that is gone keeps Django's insert).
    - ``delete()``, ``hard_delete()`` and ``restore()`` first lock the row and compare its
      version (one ``SELECT ... FOR UPDATE``), whatever the order of the bases.
    - ``QuerySet.update()`` and the soft-delete cascade bump the versions they touch;
      ``bulk_update()`` checks each row's version.

    Like an IntegrityError, a ConflictError raised inside ``atomic`` marks the transaction
    for rollback: retry the whole transaction, or wrap the save in its own ``atomic``.
    """

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = PatternManager()

    prodpatterns_versioned = True  # markers.VERSIONED_MARKER

    # The version this instance was loaded or last saved with (None: not from the database).
    _loaded_version: int | None

    class Meta:
        abstract = True

    @alters_data
    def save(self, *args: Any, **kwargs: Any) -> None:
        loaded = getattr(self, "_loaded_version", None)
        if not self._state.adding and loaded is not None and self.version != loaded:
            raise refuse_version_write(type(self))
        update_fields = kwargs.get("update_fields")
        if update_fields:
            kwargs["update_fields"] = {*update_fields, VERSION}
        super().save(*args, **kwargs)
        self._loaded_version = self.version

    @alters_data
    def delete(
        self, using: str | None = None, keep_parents: bool = False
    ) -> tuple[int, dict[str, int]]:
        """A version-checked delete: a stale instance raises ConflictError, deletes nothing."""
        using = using or router.db_for_write(type(self), instance=self)
        with self.version_checked(using):
            return super().delete(using=using, keep_parents=keep_parents)

    @classmethod
    def from_db(
        cls,
        db: str | None,
        field_names: Collection[str],
        values: Collection[object],
        **kwargs: Any,  # fetch_mode, Django 6.1+
    ) -> Self:
        # **kwargs: Django 6.1 passes fetch_mode (and warns about overrides without it).
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_version = instance.__dict__.get(VERSION)
        return instance

    @contextmanager
    def version_checked(self, using: str) -> Iterator[None]:
        """Run a write of this row in a transaction that holds it at the caller's version.

        One ``SELECT ... FOR UPDATE``: another version raises ConflictError before anything
        is written; a row that is gone (or not visible to this tenant) lets the write go on
        and find nothing, as Django's own delete does. Nested uses check once.
        """
        if self.__dict__.get("_version_held"):
            yield
            return
        with transaction.atomic(using=using):
            current = (
                rows_of(type(self), using, [self.pk], [getattr(self, f"{TENANT_FIELD}_id", None)])
                .select_for_update()
                .values_list(VERSION, flat=True)
                .first()
            )
            if current is not None and current != self.version:
                raise ConflictError(type(self), self.pk, self.version, current)
            self._version_held = True
            try:
                yield
            finally:
                self._version_held = False

    def _count_set_write(self) -> None:
        """A set-based write (soft delete, restore) bumped this row's version by one."""
        self.version += 1
        self._loaded_version = self.version

    def _do_update(
        self,
        base_qs: models.QuerySet[Self],
        using: str | None,
        pk_val: Any,
        values: Collection[tuple[models.Field, type[models.Model] | None, Any]],
        *args: Any,  # update_fields, forced_update (and returning_fields, Django 6.0+)
        **kwargs: Any,
    ) -> Any:  # True/False on Django 5.2, the returned rows on 6.0+
        expected = self.version
        field = cast(models.Field, self._meta.get_field(VERSION))  # a PositiveIntegerField
        values = [*(v for v in values if v[0].attname != VERSION), (field, None, expected + 1)]
        updated = super()._do_update(
            with_version(base_qs, field, expected), using, pk_val, values, *args, **kwargs
        )
        if updated:
            self.version = expected + 1
            return updated
        current = (
            type(self)
            ._base_manager.using(using)
            .filter(pk=pk_val)
            .values_list(VERSION, flat=True)
            .first()
        )
        if current is None:
            return updated  # the row is gone: Django inserts it again, as without locking
        raise ConflictError(type(self), pk_val, expected, current)
