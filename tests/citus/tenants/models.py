"""Tenant models of several shapes, distributed on the Citus cluster by their tenant.

Written as a user would (string references, a reference declared before its target), and
migrated by migrations that ``makemigrations`` wrote in Citus mode; the audited ones were
audited by a later migration (0004), once their tables were distributed.
"""

from django.db import models

from django_prodpatterns.models import (
    AuditedModel,
    SoftDeleteModel,
    TenantModel,
    TimestampedModel,
    VersionedModel,
    alive_unique,
)


class Customer(TenantModel, SoftDeleteModel, TimestampedModel, AuditedModel):
    audit_redact = ("email",)

    name = models.CharField(max_length=100)
    email = models.CharField(max_length=200)

    class Meta:
        constraints = [alive_unique("tenant", "email", name="citus_customer_email_alive_uniq")]


class Order(TenantModel, SoftDeleteModel, VersionedModel, AuditedModel):
    customer = models.ForeignKey("Customer", models.CASCADE, related_name="orders")
    number = models.IntegerField()
    status = models.CharField(max_length=20, default="new")


class OrderLine(TenantModel, SoftDeleteModel, AuditedModel):
    order = models.ForeignKey(Order, models.CASCADE, related_name="lines")
    product = models.ForeignKey("Product", models.PROTECT, related_name="+")
    quantity = models.IntegerField(default=1)


class Product(TenantModel, AuditedModel):
    sku = models.CharField(max_length=50)
    name = models.CharField(max_length=100)

    class Meta:
        # Added in a later migration, on the distributed table.
        constraints = [
            models.UniqueConstraint(fields=["tenant", "sku"], name="citus_product_sku_uniq")
        ]


class Member(models.Model):
    """Which tenant a user works for: a shared table (not distributed) on the coordinator."""

    user = models.OneToOneField("auth.User", models.CASCADE, related_name="member")
    tenant = models.ForeignKey("prodpatterns.Tenant", models.CASCADE, related_name="+")

    def __str__(self) -> str:
        return f"{self.user_id} in {self.tenant_id}"


class Ledger(TenantModel, AuditedModel):
    """A table and key of the user's naming (mixed case, a space): every name the layout
    writes is quoted."""

    entry = models.BigAutoField(primary_key=True, db_column="Entry No")
    amount = models.IntegerField(default=0)

    class Meta:
        db_table = "CitusLedger"


class VipCustomer(Customer):
    """A proxy: no table nor layout of its own, routed like its concrete model."""

    class Meta:
        proxy = True
