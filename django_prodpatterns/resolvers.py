"""How a request names its tenant. Set one with ``PRODPATTERNS["TENANT_RESOLVER"]``.

A resolver is ``callable(request) -> tenant | None``. A header or a subdomain only *asks*
for a tenant: the built-ins accept it only when the user is a member, so nobody reaches
another tenant by editing a request.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import HttpRequest

from .conf import app_settings
from .models.tenancy import get_tenant_model

TENANT_HEADER = "X-Tenant-ID"


def _user(request: HttpRequest) -> Any:
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _follow(obj: Any, path: str) -> Any:
    """``obj.a.b`` for ``"a.b"``; None where a link is missing."""
    for name in path.split("."):
        try:
            obj = getattr(obj, name, None)
        except ObjectDoesNotExist:  # a missing reverse one-to-one (e.g. no profile)
            return None
        if obj is None:
            return None
    return obj


def user_tenants(user: Any) -> list[Any]:
    """Tenants ``user`` belongs to.

    ``PRODPATTERNS["TENANT_USER_ATTRIBUTE"]`` names one tenant (``"tenant"``, or a dotted
    path such as ``"profile.tenant"``); failing that, the same name plus ``s`` may name a
    many-to-many or reverse relation of several tenants.
    """
    attribute = app_settings.TENANT_USER_ATTRIBUTE
    single = _follow(user, attribute)
    if single is not None:
        return [single]
    many = _follow(user, f"{attribute}s")
    return list(many.all()) if many is not None else []


def _member(user: Any, tenant: Any) -> Any:
    return next((t for t in user_tenants(user) if t.pk == tenant.pk), None)


def from_user(request: HttpRequest) -> Any:
    """The authenticated user's own tenant (``user.tenant`` by default)."""
    user = _user(request)
    if user is None:
        return None
    tenants = user_tenants(user)
    return tenants[0] if len(tenants) == 1 else None


def _lookup(**filters: Any) -> Any:
    try:
        return get_tenant_model()._base_manager.filter(**filters).first()
    except (ValueError, ValidationError):  # a malformed key names no tenant
        return None


def from_header(request: HttpRequest) -> Any:
    """The tenant whose primary key is in the ``X-Tenant-ID`` header, if the user is a member."""
    user, key = _user(request), request.headers.get(TENANT_HEADER)
    if user is None or not key or not key.isprintable():
        return None  # a NUL or control character names no tenant (and text keys refuse NUL)
    tenant = _lookup(pk=key)
    return _member(user, tenant) if tenant is not None else None


def from_subdomain(request: HttpRequest) -> Any:
    """The tenant whose ``slug`` is the first label of the host, if the user is a member."""
    user = _user(request)
    host = request.get_host().split(":")[0]
    if user is None or host.count(".") < 2:
        return None
    tenant = _lookup(slug=host.split(".")[0])
    return _member(user, tenant) if tenant is not None else None
