"""Leak tests for a UUID-keyed tenant model; run by tests/test_swapped_tenants.py in a child
pytest with tests/settings_uuid.py (the file name keeps the main run from collecting it)."""

import pytest

from django_prodpatterns.context import tenant_context
from django_prodpatterns.models import get_tenant_model
from django_prodpatterns.testing import assert_tenant_isolation
from tests.uuidtenants.models import Invoice, Line, Organization

pytestmark = pytest.mark.django_db(transaction=True, databases=["default", "app"])


def test_the_tenant_model_is_swapped_and_uuid_keyed():
    assert get_tenant_model() is Organization
    assert Invoice._meta.get_field("tenant").related_model is Organization


def test_invoices_are_isolated(tenant_pair):
    assert isinstance(tenant_pair[0].pk.int, int)  # UUID keys
    assert_tenant_isolation(
        Invoice,
        lambda tenant: Invoice(number="1"),
        tenants=tenant_pair,
        using="app",
        reference=lambda invoice: Line(invoice=invoice, text="x"),
    )


def test_lines_are_isolated(tenant_pair):
    invoices = {}
    for tenant in tenant_pair:
        with tenant_context(tenant):
            invoices[tenant.pk] = Invoice.objects.using("app").create(number="i")
    try:
        assert_tenant_isolation(
            Line,
            lambda tenant: Line(invoice=invoices[tenant.pk], text="l"),
            tenants=tenant_pair,
            using="app",
        )
    finally:
        for tenant in tenant_pair:
            with tenant_context(tenant):
                Invoice._base_manager.using("app").all().delete()
