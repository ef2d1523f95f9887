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
# On the class of a tenant model's ``tenant`` field (models.tenancy.TenantField), which the
# historical models of migrations keep: what tells a tenant table in migration state.
TENANT_FIELD_MARKER = "prodpatterns_tenant_field"

# --- the fields the patterns add, by name ------------------------------------------------
# The one place these names are spelled: the abstract bases declare the fields under them
# (tests/test_names.py holds the two together), and everything that reads, writes or skips
# one of them imports the name from here.

TENANT_FIELD = "tenant"  # TenantModel: whose row it is (data, not bookkeeping)
CREATED_AT = "created_at"  # TimestampedModel
UPDATED_AT = "updated_at"  # TimestampedModel (or the user's own column of that name)
VERSION = "version"  # VersionedModel
DELETED_AT = "deleted_at"  # SoftDeleteModel: NULL while the row is alive
DELETION_BATCH = "deletion_batch"  # SoftDeleteModel: the id of the delete or restore

TIMESTAMP_FIELDS = (CREATED_AT, UPDATED_AT)
SOFT_DELETE_FIELDS = (DELETED_AT, DELETION_BATCH)
# Bookkeeping: the columns the patterns write themselves, never an editor. A revert of an
# audited row never writes them back: history is not rewritten, a version only moves
# forward, and a deleted row comes back with its deletion through restore().
BOOKKEEPING_FIELDS = (*TIMESTAMP_FIELDS, VERSION, *SOFT_DELETE_FIELDS)

# Views of the bookkeeping for one purpose each; each says why it leaves the rest out.
# The audit triggers: an UPDATE whose only change is to these writes no entry, because
# updated_at moves on every save and alone says nothing about the data. (The rest stays
# in the diff: a version or a soft delete is part of what happened to the row.)
AUDIT_IGNORED_FIELDS = (UPDATED_AT,)
# The locking admin's conflict message lists what someone else changed: the version and
# the timestamps are no editor's change (they move, or stay, by themselves); a soft delete
# in the meantime is news, so the soft-delete columns are listed.
CONFLICT_IGNORED_FIELDS = (VERSION, *TIMESTAMP_FIELDS)


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
