"""Middleware: thin, sync and async, delegating to the public context managers.

``TenantMiddleware`` resolves the request's tenant, runs the rest of the request inside
``tenant_context(tenant)`` and, for sync requests, inside one transaction, and turns
``TenantRequired`` (a tenant-scoped query without a tenant) into a 403. Put it after
``AuthenticationMiddleware``.
"""

from __future__ import annotations

from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.module_loading import import_string

from .conf import app_settings
from .context import tenant_context
from .exceptions import TenantRequired


def resolve_tenant(request: HttpRequest) -> Any:
    """Run the configured resolver (``PRODPATTERNS["TENANT_RESOLVER"]``)."""
    return import_string(app_settings.TENANT_RESOLVER)(request)


def _forbidden(exc: TenantRequired) -> HttpResponse:
    return HttpResponseForbidden("No tenant for this request.", content_type="text/plain")


class TenantMiddleware:
    """Set the request's tenant on the context channel for the rest of the request."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        tenant = resolve_tenant(request)
        request.tenant = tenant
        if tenant is None:
            return self.get_response(request)
        with tenant_context(tenant), transaction.atomic():
            return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> Any:
        # Async requests run without an enclosing transaction (Django's transactions are
        # bound to one thread); every statement still carries the tenant.
        tenant = await sync_to_async(resolve_tenant)(request)
        request.tenant = tenant
        if tenant is None:
            return await self.get_response(request)
        async with tenant_context(tenant):
            return await self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> Any:
        if isinstance(exception, TenantRequired):
            return _forbidden(exception)
        return None
