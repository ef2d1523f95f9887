"""How a model class says which patterns it carries.

Each abstract base sets a class attribute; everything that composes patterns (managers,
QuerySets, cascades, checks) asks these predicates instead of ``issubclass``, so it works
in any inheritance order and without importing the models.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from django.db import models

    # A model class, or one of its rows (the marker is a class attribute).
    ModelOrInstance = type[models.Model] | models.Model

SOFT_DELETE_MARKER = "prodpatterns_soft_delete"
TENANT_SCOPED_ATTRIBUTE = "prodpatterns_tenant_scoped"
VERSIONED_MARKER = "prodpatterns_versioned"
AUDITED_MARKER = "prodpatterns_audited"

TENANT_FIELD = "tenant"
VERSION = "version"
UPDATED_AT = "updated_at"


def is_soft_deletable(model: ModelOrInstance) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.SoftDeleteModel`."""
    return bool(getattr(model, SOFT_DELETE_MARKER, False))


def is_tenant_scoped(model: ModelOrInstance) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.TenantModel`."""
    return bool(getattr(model, TENANT_SCOPED_ATTRIBUTE, False))


def is_versioned(model: ModelOrInstance) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.VersionedModel`."""
    return bool(getattr(model, VERSIONED_MARKER, False))


def is_audited(model: ModelOrInstance) -> bool:
    """True for models built on :class:`~django_prodpatterns.models.AuditedModel`."""
    return bool(getattr(model, AUDITED_MARKER, False))


def has_updated_at(model: ModelOrInstance) -> bool:
    """True when the model has an ``updated_at`` column (timestamps, or the user's own)."""
    return any(f.name == UPDATED_AT for f in model._meta.concrete_fields)


# --- the flags Django reads on methods --------------------------------------------------

_Method = TypeVar("_Method", bound=Callable[..., object])


def alters_data(method: _Method) -> _Method:
    """``method.alters_data = True``: templates never call it (Django's flag), written as a
    decorator so that type checkers accept it."""
    method.__dict__["alters_data"] = True
    return method


def queryset_only(method: _Method) -> _Method:
    """``method.queryset_only = True``: ``Manager.from_queryset()`` does not copy it onto
    the manager (Django's flag), written as a decorator so that type checkers accept it."""
    method.__dict__["queryset_only"] = True
    return method
