"""The example shop: two stores (the tenants), each with staff, customers, products and
orders. Every store-owned model is a ``TenantBaseModel``; orders are versioned too."""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils import timezone

from django_prodpatterns.models import (
    TenantBaseModel,
    TimestampedModel,
    VersionedModel,
    alive_index,
    alive_unique,
)


class Store(TimestampedModel):
    """The tenant model (``PRODPATTERNS_TENANT_MODEL = "shop.Store"``)."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.name


class StaffMember(models.Model):
    """Which store a staff user works for (``TENANT_USER_ATTRIBUTE = "staff.store"``)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, models.CASCADE, related_name="staff")
    store = models.ForeignKey(Store, models.PROTECT, related_name="staff")

    def __str__(self) -> str:
        return f"{self.user} at {self.store}"


class Customer(TenantBaseModel):
    name = models.CharField(max_length=100)
    email = models.EmailField()

    class Meta:
        constraints = [alive_unique("tenant", "email", name="shop_customer_email_alive_uniq")]

    def __str__(self) -> str:
        return self.name


class Product(TenantBaseModel):
    sku = models.CharField("SKU", max_length=20)
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    class Meta:
        constraints = [alive_unique("tenant", "sku", name="shop_product_sku_alive_uniq")]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(TenantBaseModel, VersionedModel):
    class Status(models.TextChoices):
        NEW = "new", "new"
        PAID = "paid", "paid"
        SHIPPED = "shipped", "shipped"
        CANCELLED = "cancelled", "cancelled"

    number = models.CharField(max_length=20)
    customer = models.ForeignKey(Customer, models.PROTECT, related_name="orders")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    placed_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [alive_unique("tenant", "number", name="shop_order_number_alive_uniq")]
        indexes = [alive_index("tenant", "placed_at", name="shop_order_placed_alive_idx")]

    def __str__(self) -> str:
        return self.number


class OrderItem(TenantBaseModel):
    order = models.ForeignKey(Order, models.CASCADE, related_name="items")
    product = models.ForeignKey(Product, models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(default=1)
    unit_price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.quantity} x {self.product}"

    @property
    def total(self) -> Decimal:
        return self.quantity * self.unit_price
