"""The tenant and the audit actor of a request that Django REST framework authenticates.

``TenantMiddleware`` resolves the tenant before the view runs, from ``request.user`` as
``AuthenticationMiddleware`` left it: a session user. DRF authenticates token, Basic and
JWT clients only inside the view (``APIView.initial()``), so at middleware time they are
anonymous, resolve no tenant, and every tenant query of theirs is a 403.

:class:`TenantAPIViewMixin` moves the resolution to where DRF users expect it: right after
DRF's authentication, before permissions and throttles (``perform_authentication()``, the
hook DRF itself documents for "after the user is known"). It is a mixin rather than an
authentication class or a permission class because it must *hold* two contexts for the
rest of the request and undo them afterwards, which only the view's ``dispatch()`` spans.
The middleware sees the ``prodpatterns_resolves_tenant`` marker and leaves such views alone,
so the resolver runs once per request, on the user DRF authenticated::

    class InvoiceList(TenantAPIViewMixin, generics.ListCreateAPIView):
        ...
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from ..context import audit_context, tenant_context
from ..exceptions import TenantRequired
from ..middleware import _set_tenant, resolve_tenant

NO_TENANT = "No tenant for this request."


class TenantAPIViewMixin:
    """Resolve the tenant and set the audit actor once DRF has authenticated the request.

    Put it first among the bases of an ``APIView`` (generic views and viewsets included).
    For each request it:

    - runs the configured resolver (``PRODPATTERNS["TENANT_RESOLVER"]``) on the DRF request,
      whose ``user`` is the one DRF's authentication classes found (session, token, Basic,
      JWT), and sets ``request.tenant``;
    - runs the rest of the request (permissions, throttles, the handler, the exception
      handler, ``finalize_response()``) inside ``tenant_context(tenant)`` and
      ``audit_context(actor=user)``, so audit entries name the DRF user even where no
      ``AuditContextMiddleware`` is installed. With a tenant, it also runs inside one
      transaction on the default database, as ``TenantMiddleware`` does for other views;
      an exception DRF answers with an error response rolls that transaction back, as
      ``ATOMIC_REQUESTS`` does;
    - answers ``TenantRequired`` (tenant data touched without a tenant) with DRF's
      ``PermissionDenied``: a 403 in DRF's error format, never a 500.

    Every context is entered in ``dispatch()``'s stack and exited, in reverse order and
    with its token, when ``dispatch()`` returns the finalized response or raises.
    """

    prodpatterns_resolves_tenant = True  # middleware.RESOLVES_TENANT_MARKER

    _prodpatterns_stack: ExitStack | None = None
    _prodpatterns_resolved = False
    _prodpatterns_atomic = False

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        with ExitStack() as stack:
            # No tenant until authentication has named one, whatever the code around the
            # view had set (the middleware does the same for the views it resolves).
            stack.enter_context(tenant_context(None))
            self._prodpatterns_stack = stack
            try:
                return super().dispatch(request, *args, **kwargs)  # type: ignore[misc]
            finally:
                self._prodpatterns_stack = None

    def perform_authentication(self, request: Request) -> None:
        super().perform_authentication(request)  # type: ignore[misc]
        stack = self._prodpatterns_stack
        if stack is None or self._prodpatterns_resolved:
            return  # called outside dispatch(), or a second time: keep the first answer
        self._prodpatterns_resolved = True
        tenant = resolve_tenant(request)
        _set_tenant(request, tenant)
        _set_tenant(request._request, tenant)
        stack.enter_context(tenant_context(tenant))
        if tenant is not None:
            stack.enter_context(transaction.atomic())
            self._prodpatterns_atomic = True
        stack.enter_context(audit_context(actor=request.user))

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, TenantRequired):
            exc = PermissionDenied(NO_TENANT)
        response = super().handle_exception(exc)  # type: ignore[misc]
        if self._prodpatterns_atomic:
            transaction.set_rollback(True)  # the error answer keeps nothing the view wrote
        return response
