"""Deprecated alias of :mod:`django_prodpatterns.admin.tenancy` (tenants in the admin).

Import from ``django_prodpatterns.admin.tenancy`` (or, for the admin classes,
``django_prodpatterns.admin``). This module only re-exports that one: it registers nothing
(``django_prodpatterns.admin`` does, once), and importing it warns.
"""

from __future__ import annotations

import warnings
from typing import Any

from .admin import tenancy as _new
from .admin.tenancy import (
    TEMPLATE,
    TENANTS_PER_PAGE,
    ActForTenantForm,
    TenantAccessAdmin,
    TenantAdmin,
    add_admin_notices,
    no_tenant_page,
    register_tenant_admin,
)

__all__ = [
    "TEMPLATE",
    "TENANTS_PER_PAGE",
    "ActForTenantForm",
    "TenantAccessAdmin",
    "TenantAdmin",
    "add_admin_notices",
    "no_tenant_page",
    "register_tenant_admin",
]

warnings.warn(
    "django_prodpatterns.admin_tenancy is deprecated; "
    "import from django_prodpatterns.admin.tenancy (or django_prodpatterns.admin) instead.",
    DeprecationWarning,
    stacklevel=2,
)


def __getattr__(name: str) -> Any:
    """Any other name the old module had (private helpers, imports) comes from the new one."""
    try:
        return getattr(_new, name)
    except AttributeError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
