"""Optimistic locking: a stale write is a ConflictError, never a silent overwrite."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any

from django.db import models, router, transaction
from django.utils.translation import gettext_lazy as _

from ..exceptions import ConflictError

VERSION = "version"

# Set while bulk_update() writes versions it has checked itself (Django's bulk_update
# sends them through QuerySet.update()).
_writing_checked_versions: ContextVar[bool] = ContextVar("prodpatterns_bulk", default=False)


class VersionedQuerySetMixin:
    """``update()`` bumps versions, so editors holding the old one conflict;
    ``bulk_update()`` checks each row's version; nobody writes ``version`` by hand."""

    def update(self, **kwargs: Any) -> int:
        if _writing_checked_versions.get():
            return super().update(**kwargs)
        if VERSION in kwargs:
            raise ValueError(f"{self.model._meta.label}.version is managed: do not write it.")
        kwargs[VERSION] = models.F(VERSION) + 1
        return super().update(**kwargs)

    update.alters_data = True

    def bulk_update(self, objs: Any, fields: Any, batch_size: int | None = None) -> int:
        objs = list(objs)
        if VERSION in fields:
            raise ValueError(f"{self.model._meta.label}.version is managed: do not write it.")
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


class VersionedQuerySet(VersionedQuerySetMixin, models.QuerySet):
    pass


class VersionedModel(models.Model):
    """Adds ``version``; saving a stale instance raises :class:`ConflictError`.

    A save of an existing row is one ``UPDATE ... WHERE pk = %s AND version = %s`` that
    bumps the version (no pre-select). Only when it matches no row does one SELECT find
    the current version for the error (a row that is gone keeps Django's insert).

    Like an IntegrityError, a ConflictError raised inside ``atomic`` marks the transaction
    for rollback: retry the whole transaction, or wrap the save in its own ``atomic``.
    """

    version = models.PositiveIntegerField(_("version"), default=1, editable=False)

    objects = models.Manager.from_queryset(VersionedQuerySet)()

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        loaded = getattr(self, "_loaded_version", None)
        if not self._state.adding and loaded is not None and self.version != loaded:
            raise ValueError(f"{self._meta.label}.version is managed: do not write it.")
        update_fields = kwargs.get("update_fields")
        if update_fields:
            kwargs["update_fields"] = {*update_fields, VERSION}
        super().save(*args, **kwargs)
        self._loaded_version = self.version

    save.alters_data = True

    def delete(self, using: str | None = None, keep_parents: bool = False) -> Any:
        """A version-checked delete: a stale instance raises ConflictError, deletes nothing."""
        using = using or router.db_for_write(type(self), instance=self)
        with transaction.atomic(using=using):
            self._claim(using)
            return super().delete(using=using, keep_parents=keep_parents)

    delete.alters_data = True

    @classmethod
    def from_db(cls, db: Any, field_names: Any, values: Any) -> VersionedModel:
        instance = super().from_db(db, field_names, values)
        instance._loaded_version = instance.__dict__.get(VERSION)
        return instance

    def _claim(self, using: str) -> None:
        """Bump the version if it is still ours (one UPDATE), else raise ConflictError."""
        rows = type(self)._base_manager.using(using).filter(pk=self.pk, version=self.version)
        if not models.QuerySet.update(rows, version=models.F(VERSION) + 1):
            current = (
                type(self)
                ._base_manager.using(using)
                .filter(pk=self.pk)
                .values_list(VERSION, flat=True)
                .first()
            )
            raise ConflictError(type(self), self.pk, self.version, current)
        self.version += 1
        self._loaded_version = self.version

    def _do_update(
        self, base_qs: Any, using: Any, pk_val: Any, values: list, *args: Any, **kwargs: Any
    ) -> Any:
        expected = self.version
        field = self._meta.get_field(VERSION)
        values = [v for v in values if v[0].attname != VERSION]
        values.append((field, None, expected + 1))
        updated = super()._do_update(
            base_qs.filter(version=expected), using, pk_val, values, *args, **kwargs
        )
        if updated:
            self.version = expected + 1
            return updated
        current = base_qs.filter(pk=pk_val).values_list(VERSION, flat=True).first()
        if current is None:
            return updated  # the row is gone: Django inserts it again, as without locking
        raise ConflictError(type(self), pk_val, expected, current)
