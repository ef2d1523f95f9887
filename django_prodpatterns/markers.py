"""How a model class says which patterns it carries.

Each abstract base sets a class attribute; everything that composes patterns (managers,
QuerySets, cascades, checks) asks these predicates instead of ``issubclass``, so it works
in any inheritance order and without importing the models.
"""

from __future__ import annotations

from typing import Any

SOFT_DELETE_MARKER = "prodpatterns_soft_delete"
TENANT_SCOPED_ATTRIBUTE = "prodpatterns_tenant_scoped"
VERSIONED_MARKER = "prodpatterns_versioned"
AUDITED_MARKER = "prodpatterns_audited"

TENANT_FIELD = "tenant"
VERSION = "version"
UPDATED_AT = "updated_at"


def is_soft_deletable(model: Any) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.SoftDeleteModel`."""
    return bool(getattr(model, SOFT_DELETE_MARKER, False))


def is_tenant_scoped(model: Any) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.TenantModel`."""
    return bool(getattr(model, TENANT_SCOPED_ATTRIBUTE, False))


def is_versioned(model: Any) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.VersionedModel`."""
    return bool(getattr(model, VERSIONED_MARKER, False))


def is_audited(model: Any) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.AuditedModel`."""
    return bool(getattr(model, AUDITED_MARKER, False))


def has_updated_at(model: Any) -> bool:
    """True when the model has an ``updated_at`` column (timestamps, or the user's own)."""
    return any(f.name == UPDATED_AT for f in model._meta.concrete_fields)
