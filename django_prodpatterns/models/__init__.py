"""Abstract model bases, one module per pattern, and the default tenant model.

Import them from here: ``from django_prodpatterns.models import TenantModel``.
"""

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
