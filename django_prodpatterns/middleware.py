"""Middleware: thin, sync and async, delegating to the public context managers.

``AuditContextMiddleware`` puts the request's id, client IP, user agent and path on the
context channel, with the user as a lazy actor read when each write happens. Put it
before ``TenantMiddleware``.

``TenantMiddleware`` resolves the request's tenant, runs the rest of the request inside
``tenant_context(tenant)`` and, for sync requests, inside one transaction, and turns
``TenantRequired`` (a tenant-scoped query without a tenant) into a 403. A request that
resolves no tenant runs with none, whatever tenant the code around it had set. Put it after
``AuthenticationMiddleware``.

The 403 says no more than "No tenant for this request." With ``DEBUG`` on it also says
which resolver ran, for which user, and why it found nothing; in the admin, staff get a page
that explains row level security and lets those who may act for a tenant choose one (see
:mod:`django_prodpatterns.acting`, which also puts a staff member's chosen tenant ahead of
the resolver's).

A view that authenticates its own requests (Django REST framework's token, Basic or JWT
authentication) can only name its tenant once it has run its authentication: such a view
says so with ``prodpatterns_resolves_tenant = True`` on the view function or class
(:class:`django_prodpatterns.drf.TenantAPIViewMixin` does), and ``TenantMiddleware`` leaves
it to resolve the tenant itself instead of resolving one from a still anonymous user.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any, TypedDict, cast

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.db import models, transaction
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden, JsonResponse
from django.http.response import HttpResponseBase
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string
from django.template.response import SimpleTemplateResponse
from django.urls import Resolver404, resolve
from django.utils.module_loading import import_string

from .acting import acting_tenant
from .conf import app_settings
from .context import (
    LazyActor,
    TenantKey,
    audit_context,
    clean_ip_address,
    clean_text,
    tenant_context,
    without_audit_context,
)
from .exceptions import ConflictError, TenantRequired
from .http import PreconditionFailed, PreconditionRequired
from .resolvers import explain_no_tenant

if TYPE_CHECKING:

    class _Request(HttpRequest):
        """A request as these middleware leave it (for type checkers only)."""

        tenant: models.Model | TenantKey | None  # TenantMiddleware
        request_id: str  # AuditContextMiddleware


def _set_tenant(request: object, tenant: models.Model | TenantKey | None) -> None:
    """``request.tenant = tenant`` (Django's request, or REST framework's)."""
    cast("_Request", request).tenant = tenant


def resolve_tenant(request: HttpRequest) -> models.Model | TenantKey | None:
    """The tenant a staff member chose to act for (:func:`~.acting.acting_tenant`), else the
    configured resolver's (``PRODPATTERNS["TENANT_RESOLVER"]``)."""
    tenant = acting_tenant(request)
    if tenant is not None:
        return tenant
    resolved: models.Model | TenantKey | None = import_string(app_settings.TENANT_RESOLVER)(request)
    return resolved


# The attribute a view function or class sets to resolve its tenant itself (after its own
# authentication); TenantMiddleware then runs it with no tenant and no transaction of its own.
RESOLVES_TENANT_MARKER = "prodpatterns_resolves_tenant"


def view_resolves_tenant(request: HttpRequest) -> bool:
    """True when the view the request is routed to resolves its tenant itself.

    The middleware runs before URL resolution, so it looks the view up itself (the same
    resolver, cached, that Django's handler uses next). Class-based views are found through
    ``view_class`` (Django) or ``cls`` (Django REST framework, viewsets included).
    """
    try:
        match = resolve(request.path_info, getattr(request, "urlconf", None))
    except Resolver404:
        return False
    view = match.func
    owners = (view, getattr(view, "view_class", None), getattr(view, "cls", None))
    return any(getattr(owner, RESOLVES_TENANT_MARKER, False) for owner in owners)


NO_TENANT = "No tenant for this request."


def _forbidden(request: HttpRequest) -> HttpResponse:
    """The 403 of a request that needed a tenant and had none.

    Staff in the admin get the admin's explanation page. Otherwise, without DEBUG: the one
    sentence, as plain text, telling a client nothing about users, relations or settings.
    With DEBUG: the same sentence with the resolver, the user and the reason, as
    problem+json, an HTML page or plain text, whichever the client accepts.
    """
    match = getattr(request, "resolver_match", None)
    user = getattr(request, "user", None)
    if (
        match is not None
        and match.app_name == "admin"
        and getattr(user, "is_active", False)
        and getattr(user, "is_staff", False)
    ):
        # Only on the admin's pages: a project without django.contrib.admin never imports it.
        from .admin.tenancy import no_tenant_page

        page = no_tenant_page(request, match.namespace)
        if page is not None:
            return page
    if not settings.DEBUG:
        return HttpResponseForbidden(NO_TENANT, content_type="text/plain")
    why = explain_no_tenant(request)
    if _wants_json(request) or _wants_html(request):
        return _problem(request, 403, "Forbidden", NO_TENANT, **why)
    lines = [f"{name.capitalize()}: {value}" for name, value in why.items()]
    return HttpResponse(
        "\n".join(["Forbidden", "", NO_TENANT, "", *lines, ""]),
        status=403,
        content_type="text/plain; charset=utf-8",
    )


class _SyncAndAsyncMiddleware:
    """Serves sync and async stacks: ``__call__`` hands async requests to ``__acall__``."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        # Returns a response, or (on an async stack) an awaitable of one.
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(
        self, request: HttpRequest
    ) -> HttpResponseBase | Coroutine[object, object, HttpResponseBase]:
        if self.is_async:
            return self.__acall__(request)
        return self.handle(request)

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        raise NotImplementedError


class TenantMiddleware(_SyncAndAsyncMiddleware):
    """Set the request's tenant on the context channel for the rest of the request.

    A view marked ``prodpatterns_resolves_tenant`` (see the module's docstring) runs
    inside ``tenant_context(None)`` with ``request.tenant = None``, and sets both itself.

    The request, its resolver included, runs inside ``tenant_context(None)`` first: a
    tenant still current in the thread or task that serves it (set by code suspended inside
    ``tenant_context``, such as a paused generator) must not become the tenant of a request
    that resolves none. The token restores that value when the request ends.
    """

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        with tenant_context(None):
            if view_resolves_tenant(request):
                _set_tenant(request, None)
                return self.get_response(request)
            tenant = resolve_tenant(request)
            _set_tenant(request, tenant)
            if tenant is None:
                return self.get_response(request)
            with tenant_context(tenant), transaction.atomic():
                return self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # Async requests run without an enclosing transaction (Django's transactions are
        # bound to one thread); every statement still carries the tenant.
        async with tenant_context(None):
            if view_resolves_tenant(request):
                _set_tenant(request, None)
                return await self.get_response(request)
            tenant = await sync_to_async(resolve_tenant)(request)
            _set_tenant(request, tenant)
            if tenant is None:
                return await self.get_response(request)
            async with tenant_context(tenant):
                return await self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, TenantRequired):
            return _forbidden(request)
        return None

    def process_template_response(
        self, request: HttpRequest, response: SimpleTemplateResponse
    ) -> SimpleTemplateResponse:
        """On admin pages: the banner of a staff member acting for a tenant, and a notice
        for staff without one (added as messages, which the admin shows on every page)."""
        match = getattr(request, "resolver_match", None)
        if match is not None and match.app_name == "admin":
            from .admin.tenancy import add_admin_notices  # as above: admin pages only

            add_admin_notices(request, response)
        return response


def _client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or the first untrusted address behind trusted proxies; None when that
    address is not an IP address (never an earlier, client-written hop instead)."""
    trusted = set(app_settings.AUDIT_TRUSTED_PROXIES)
    address = request.META.get("REMOTE_ADDR")
    if address in trusted:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        for hop in reversed([part.strip() for part in forwarded.split(",") if part.strip()]):
            if hop not in trusted:
                return clean_ip_address(hop)
    return clean_ip_address(address)


# The longest request id kept (the audit log's column); longer ones are cut.
REQUEST_ID_LENGTH = 255


def _request_id(request: HttpRequest) -> str:
    """The client's request id, or a fresh one when it sent none or one with control
    characters: the id goes back out in a response header, and CR/LF there is a 500 (or,
    behind a lenient server, a header injected into the response)."""
    sent = (request.headers.get(app_settings.AUDIT_REQUEST_ID_HEADER) or "").strip()
    if sent and sent.isprintable():
        return sent[:REQUEST_ID_LENGTH]
    return uuid.uuid4().hex


class RequestAuditValues(TypedDict):
    """What :func:`request_audit_values` returns (``audit_context()`` keyword arguments)."""

    request_id: str
    ip_address: str | None
    user_agent: str | None
    path: str | None


def request_audit_values(request: HttpRequest) -> RequestAuditValues:
    """What a request contributes to every audit entry written while it runs.

    All of it is written by the client, so it is cleaned to what the audit log stores: an
    address that is not one is dropped, NULs removed, long values cut.
    """
    return {
        "request_id": _request_id(request),
        "ip_address": _client_ip(request),
        "user_agent": clean_text(request.headers.get("User-Agent"), 1000),
        "path": clean_text(request.path, 2000),
    }


class AuditContextMiddleware(_SyncAndAsyncMiddleware):
    """Record who did what from which request, for every write the request makes.

    The request's audit context starts empty: a reason, address or extras still current in
    the thread or task that serves it (code suspended inside ``audit_context``) must not be
    written into this request's entries.
    """

    def _context(self, request: HttpRequest) -> audit_context:
        values = request_audit_values(request)
        cast("_Request", request).request_id = values["request_id"]
        return audit_context(actor=LazyActor(lambda: getattr(request, "user", None)), **values)

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        with without_audit_context(), self._context(request):
            response: HttpResponseBase = self.get_response(request)
        request_id = cast("_Request", request).request_id
        response.headers.setdefault(app_settings.AUDIT_REQUEST_ID_HEADER, request_id)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        with without_audit_context():  # sets and resets a context variable: no await needed
            async with self._context(request):
                response: HttpResponseBase = await self.get_response(request)
        request_id = cast("_Request", request).request_id
        response.headers.setdefault(app_settings.AUDIT_REQUEST_ID_HEADER, request_id)
        return response


def _wants_json(request: HttpRequest) -> bool:
    accept = request.headers.get("Accept", "")
    return "json" in accept and "text/html" not in accept.split(",")[0]


def _wants_html(request: HttpRequest) -> bool:
    return "text/html" in request.headers.get("Accept", "")


def _problem(
    request: HttpRequest, status: int, title: str, detail: str, **extra: object
) -> HttpResponse:
    """RFC 9457 problem+json for API clients, a short HTML page for browsers (the template
    ``prodpatterns/problem.html``, which a project can override), plain text otherwise."""
    if _wants_json(request):
        body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
        return JsonResponse(body, status=status, content_type="application/problem+json")
    if _wants_html(request):
        context = {"status": status, "title": title, "detail": detail, **extra}
        context.setdefault("current_version", None)
        try:
            page = render_to_string("prodpatterns/problem.html", context, request=request)
        except TemplateDoesNotExist:  # an API-only project without template engines
            page = None
        if page is not None:
            return HttpResponse(page, status=status, content_type="text/html; charset=utf-8")
    return HttpResponse(
        f"{title}\n\n{detail}\n", status=status, content_type="text/plain; charset=utf-8"
    )


class ConflictMiddleware(_SyncAndAsyncMiddleware):
    """``ConflictError`` → 409, ``PreconditionFailed`` → 412, ``PreconditionRequired`` → 428."""

    def handle(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = self.get_response(request)
        return response

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        response: HttpResponseBase = await self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, ConflictError):
            response = _problem(
                request, 409, "Conflict", str(exception), current_version=exception.current
            )
            if exception.current is not None:
                response.headers["ETag"] = f'W/"{exception.current}"'
            return response
        if isinstance(exception, PreconditionFailed):
            response = _problem(
                request,
                412,
                "Precondition Failed",
                str(exception),
                current_version=exception.current,
            )
            response.headers["ETag"] = f'W/"{exception.current}"'
            return response
        if isinstance(exception, PreconditionRequired):
            return _problem(request, 428, "Precondition Required", str(exception))
        return None
