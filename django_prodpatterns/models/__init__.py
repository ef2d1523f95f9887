"""Abstract model bases, one module per pattern, and the default tenant model.

Import them from here: ``from django_prodpatterns.models import TenantModel``. Importing
this package connects :mod:`django_prodpatterns.db.generated`, which gives the concrete
models built on these bases their generated DDL as they are prepared.
"""

from ..db import generated  # noqa: F401  (connects the class_prepared handlers)
from .acting import TenantAccess
from .audit import AuditedModel, AuditLog
from .base import BaseModel, TenantBaseModel
from .locking import VersionedModel
from .softdelete import SoftDeleteModel, alive_index, alive_unique
from .tenancy import Tenant, TenantModel, get_tenant_model
from .timestamps import TimestampedModel

__all__ = [
    "AuditLog",
    "AuditedModel",
    "BaseModel",
    "SoftDeleteModel",
    "Tenant",
    "TenantAccess",
    "TenantBaseModel",
    "TenantModel",
    "TimestampedModel",
    "VersionedModel",
    "alive_index",
    "alive_unique",
    "get_tenant_model",
]
