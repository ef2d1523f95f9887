"""DRF views for tests/test_drf_integration.py; tenant data is read and written through
the application role's alias, so row level security is what keeps tenants apart."""

from rest_framework import generics
from rest_framework.authentication import (
    BasicAuthentication,
    SessionAuthentication,
    TokenAuthentication,
)

from django_prodpatterns.drf import (
    TenantAPIViewMixin,
    VersionedAPIViewMixin,
    VersionedModelSerializer,
)
from tests.composed.models import Invoice
from tests.helpers import APP


class InvoiceSerializer(VersionedModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number", "note"]  # version is added by VersionedModelSerializer

    def create(self, validated_data):
        return Invoice.objects.using(APP).create(**validated_data)


class InvoiceAPIView(TenantAPIViewMixin, VersionedAPIViewMixin):
    authentication_classes = [TokenAuthentication, BasicAuthentication, SessionAuthentication]
    serializer_class = InvoiceSerializer

    def get_queryset(self):
        return Invoice.objects.using(APP).order_by("pk")


class InvoiceList(InvoiceAPIView, generics.ListCreateAPIView):
    pass


class InvoiceDetail(InvoiceAPIView, generics.RetrieveUpdateDestroyAPIView):
    pass


class StrictInvoiceDetail(InvoiceDetail):
    """Writes must carry If-Match."""

    if_match_required = True
