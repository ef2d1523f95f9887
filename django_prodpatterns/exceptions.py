"""Exceptions raised by django_prodpatterns.

They depend on nothing else in the app so that every layer can raise them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import BadRequest

if TYPE_CHECKING:
    from django.db import models


class ProdPatternsError(Exception):
    """Base class for the app's own errors."""


class ConflictError(ProdPatternsError):
    """A write was based on a stale version of the row (optimistic locking).

    Attributes:
        model: The model class.
        pk: The row's primary key.
        expected: The version the caller had.
        current: The version in the database (None if the row is gone).
    """

    def __init__(
        self, model: type[models.Model], pk: object, expected: object, current: object
    ) -> None:
        self.model, self.pk, self.expected, self.current = model, pk, expected, current
        super().__init__(
            f"{model._meta.label} {pk} was changed by someone else: you had version "
            f"{expected}, the database has version {current}."
        )


class TenantRequired(ProdPatternsError):
    """A tenant-scoped query ran with no current tenant."""


class RestoreConflict(ProdPatternsError):
    """Restoring soft-deleted rows would collide with a unique value of an alive row."""


class InvalidCursor(BadRequest, ProdPatternsError):
    """A pagination cursor was malformed or tampered with (an uncaught one is a 400)."""


class BulkWriteError(ProdPatternsError, ValueError):
    """A row given to ``copy_insert()`` or ``upsert()`` cannot be written; nothing was.

    ``row`` is the 0-based position of the first bad row in the input, when known.
    """

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row


class SoftDeleteCascadeError(ProdPatternsError):
    """A soft delete reached rows of a model that cannot be soft-deleted.

    Raised when ``PRODPATTERNS["SOFT_DELETE_PLAIN_CHILDREN"]`` says ``"error"`` (the default)
    for that model and such rows exist; nothing is changed.
    """


class TenantMismatch(ProdPatternsError):
    """A write would move a row to another tenant or touch another tenant's row."""
