"""The patterns composed: what most models of a project inherit."""

from __future__ import annotations

from .audit import AuditedModel
from .softdelete import SoftDeleteModel
from .tenancy import TenantModel
from .timestamps import TimestampedModel


class BaseModel(SoftDeleteModel, TimestampedModel, AuditedModel):
    """Timestamps, soft delete and an audit trail.

    ``objects`` shows alive rows, ``all_objects`` every row, ``deleted_objects`` the dead
    ones. Add :class:`~django_prodpatterns.models.VersionedModel` as a base, before or after
    this one, for optimistic locking.
    """

    class Meta:
        abstract = True


class TenantBaseModel(TenantModel, BaseModel):
    """:class:`BaseModel` for rows that belong to one tenant.

    Every manager is scoped to the current tenant as well: ``objects`` shows its alive
    rows, ``all_objects`` all its rows, ``deleted_objects`` its dead ones. Row level
    security, tenant keys and audit triggers come with the migrations.
    """

    class Meta:
        abstract = True
