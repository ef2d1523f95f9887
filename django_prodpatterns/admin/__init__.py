"""Admin integration: soft delete, the audit browser, optimistic locking and tenants.

Usage::

    from django_prodpatterns.admin import SoftDeleteAdmin

    @admin.register(Post)
    class PostAdmin(SoftDeleteAdmin):
        ...

One module per concern: :mod:`~django_prodpatterns.admin.softdelete`,
:mod:`~django_prodpatterns.admin.audit`, :mod:`~django_prodpatterns.admin.locking` and
:mod:`~django_prodpatterns.admin.tenancy` define the classes; this package exports them and
is the one place that registers the app's own models on ``admin.site`` (``AuditLog``,
``TenantAccess``, and ``Tenant`` while it is the tenant model), once, when it is first
imported (by the admin's autodiscovery, or by an import of any of its modules).
"""

from __future__ import annotations

from django.contrib import admin

from ..models.acting import TenantAccess
from ..models.audit import AuditLog
from .audit import AuditHistoryMixin, AuditLogAdmin
from .locking import (
    VersionedAdmin,
    VersionedAdminMixin,
    VersionedFormMixin,
    VersionedInlineMixin,
)
from .softdelete import DeletedStateFilter, SoftDeleteAdmin, SoftDeleteAdminMixin
from .tenancy import TenantAccessAdmin, TenantAdmin, register_tenant_admin

__all__ = [
    "AuditHistoryMixin",
    "AuditLogAdmin",
    "DeletedStateFilter",
    "SoftDeleteAdmin",
    "SoftDeleteAdminMixin",
    "TenantAccessAdmin",
    "TenantAdmin",
    "VersionedAdmin",
    "VersionedAdminMixin",
    "VersionedFormMixin",
    "VersionedInlineMixin",
]

admin.site.register(AuditLog, AuditLogAdmin)
admin.site.register(TenantAccess, TenantAccessAdmin)
register_tenant_admin()
