"""Deprecated alias of :mod:`django_prodpatterns.admin.locking` (optimistic locking in the admin).

Import from ``django_prodpatterns.admin.locking`` (or, for the admin classes,
``django_prodpatterns.admin``). This module only re-exports that one: it registers nothing
(``django_prodpatterns.admin`` does, once), and importing it warns.
"""

from __future__ import annotations

import warnings
from typing import Any

from .admin import locking as _new
from .admin.locking import (
    AUDIT_LOOKBACK,
    FIELD,
    NOT_CHANGES,
    PkAndVersionInput,
    VersionedAdmin,
    VersionedAdminMixin,
    VersionedFormMixin,
    VersionedInlineMixin,
    conflict_message,
    version_field,
    versioned_form,
    versioned_formset,
)

__all__ = [
    "AUDIT_LOOKBACK",
    "FIELD",
    "NOT_CHANGES",
    "PkAndVersionInput",
    "VersionedAdmin",
    "VersionedAdminMixin",
    "VersionedFormMixin",
    "VersionedInlineMixin",
    "conflict_message",
    "version_field",
    "versioned_form",
    "versioned_formset",
]

warnings.warn(
    "django_prodpatterns.admin_locking is deprecated; "
    "import from django_prodpatterns.admin.locking (or django_prodpatterns.admin) instead.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    """Any other name the old module had (private helpers, imports) comes from the new one."""
    try:
        return getattr(_new, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
