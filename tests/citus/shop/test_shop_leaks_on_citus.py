"""The leak kit on every model of the example shop, distributed by store, as the
application role: reads, writes, raw SQL and references across the two stores (runs after
the admin walk: file order, one seeded database)."""

from decimal import Decimal

import pytest

from django_prodpatterns.context import tenant_context
from django_prodpatterns.testing import assert_tenant_isolation
from example_project.shop.models import Customer, Order, OrderItem, Product, Store
from example_project.shop.seed import STORES

APP = "default"  # the shop's application role, as in the example


@pytest.fixture(scope="module")
def stores():
    """Both stores, with a customer, a product and an order of each (read, not made)."""
    found = {}
    for spec in STORES:
        store = Store.objects.get(slug=spec.slug)
        with tenant_context(store):
            found[store.pk] = (
                store,
                Customer.objects.using(APP).order_by("pk").first(),
                Product.objects.using(APP).order_by("pk").first(),
                Order.objects.using(APP).order_by("pk").first(),
            )
    return found


def _make(model, tenant, stores):
    _, customer, product, order = stores[tenant.pk]
    return {
        Customer: lambda: Customer(name="Leak Test", email=f"leak@{tenant.slug}.example"),
        Product: lambda: Product(sku=f"LEAK-{tenant.pk}", name="leak", price=Decimal("1.00")),
        Order: lambda: Order(number=f"LEAK{tenant.pk}", customer=customer),
        OrderItem: lambda: OrderItem(order=order, product=product, unit_price=Decimal("1.00")),
    }[model]()


REFERENCES = {
    Customer: lambda customer: Order(number="LEAK-REF", customer=customer),
    Product: lambda product: OrderItem(
        order=Order.objects.using(APP).order_by("pk").first(),
        product=product,
        unit_price=Decimal("1.00"),
    ),
    Order: lambda order: OrderItem(
        order=order,
        product=Product.objects.using(APP).order_by("pk").first(),
        unit_price=Decimal("1.00"),
    ),
    OrderItem: None,
}


@pytest.mark.parametrize("model", list(REFERENCES), ids=lambda m: m.__name__)
def test_the_leak_kit_passes_on_every_shop_model(stores, model):
    tenants = tuple(store for store, *_ in stores.values())
    assert_tenant_isolation(
        model,
        lambda tenant: _make(model, tenant, stores),
        tenants=tenants,
        using=APP,
        reference=REFERENCES[model],
    )
