"""Deprecated alias of :mod:`django_prodpatterns.admin.audit` (the audit log browser).

Import from ``django_prodpatterns.admin.audit`` (or, for the admin classes,
``django_prodpatterns.admin``). This module only re-exports that one: it registers nothing
(``django_prodpatterns.admin`` does, once), and importing it warns.
"""

from __future__ import annotations

import warnings
from typing import Any

from .admin import audit as _new
from .admin.audit import (
    ActorFilter,
    AtLeast,
    AuditHistoryMixin,
    AuditLogAdmin,
    EstimatedCountPaginator,
    ModelFilter,
    WhenFilter,
    diff_table,
    history_url,
    visible_staff,
)

__all__ = [
    "ActorFilter",
    "AtLeast",
    "AuditHistoryMixin",
    "AuditLogAdmin",
    "EstimatedCountPaginator",
    "ModelFilter",
    "WhenFilter",
    "diff_table",
    "history_url",
    "visible_staff",
]

warnings.warn(
    "django_prodpatterns.admin_audit is deprecated; "
    "import from django_prodpatterns.admin.audit (or django_prodpatterns.admin) instead.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    """Any other name the old module had (private helpers, imports) comes from the new one."""
    try:
        return getattr(_new, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
