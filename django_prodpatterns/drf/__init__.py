"""Django REST framework integration (importable only when DRF is installed).

- :class:`KeysetPagination`: keyset pagination with opaque cursors.
- :class:`TenantAPIViewMixin`: the tenant and the audit actor from the user DRF
  authenticated (session, token, Basic, JWT), not from the middleware's anonymous user.
- :class:`VersionedModelSerializer` / :class:`VersionedSerializerMixin` and
  :class:`VersionedAPIViewMixin`: optimistic locking through ``version``, ``If-Match`` and
  ``ETag``, with 409, 412 and 428 answers.

A view of tenant rows that are versioned uses both mixins, tenant first::

    class InvoiceDetail(TenantAPIViewMixin, VersionedAPIViewMixin, RetrieveUpdateAPIView):
        serializer_class = InvoiceSerializer  # a VersionedModelSerializer

        def get_queryset(self):
            return Invoice.objects.all()  # scoped to the tenant resolved after authentication
"""

from .locking import (
    Conflict,
    PreconditionFailedError,
    PreconditionRequiredError,
    VersionedAPIViewMixin,
    VersionedModelSerializer,
    VersionedSerializerMixin,
)
from .pagination import KeysetPagination
from .tenancy import TenantAPIViewMixin

__all__ = [
    "Conflict",
    "KeysetPagination",
    "PreconditionFailedError",
    "PreconditionRequiredError",
    "TenantAPIViewMixin",
    "VersionedAPIViewMixin",
    "VersionedModelSerializer",
    "VersionedSerializerMixin",
]
