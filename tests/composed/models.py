"""One model per combination of bases; the tests read which patterns each carries from the
markers, so every model runs the same manager and behaviour tests."""

from django.db import models

from django_prodpatterns.models import (
    BaseModel,
    SoftDeleteModel,
    TenantBaseModel,
    TenantModel,
    TimestampedModel,
    VersionedModel,
    alive_unique,
)


class Row(models.Model):
    name = models.CharField(max_length=50, default="row")

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.name


# --- the two base models, with and without versioning, in both orders ---------------------


class BaseRow(BaseModel, Row):
    pass


class BaseVersionedRow(BaseModel, VersionedModel, Row):
    pass


class VersionedBaseRow(VersionedModel, BaseModel, Row):
    pass


class TenantRow(TenantBaseModel, Row):
    pass


class TenantVersionedRow(TenantBaseModel, VersionedModel, Row):
    pass


class VersionedTenantRow(VersionedModel, TenantBaseModel, Row):
    pass


# --- the single-pattern bases combined by hand, in both orders -----------------------------


class SoftTenantRow(SoftDeleteModel, TenantModel, Row):
    pass


class TenantSoftRow(TenantModel, SoftDeleteModel, Row):
    pass


class SoftVersionedRow(SoftDeleteModel, VersionedModel, Row):
    pass


class VersionedSoftRow(VersionedModel, SoftDeleteModel, Row):
    pass


class TimestampedSoftRow(TimestampedModel, SoftDeleteModel, Row):
    pass


class TenantVersionedOnlyRow(TenantModel, VersionedModel, Row):
    pass


class VersionedTenantOnlyRow(VersionedModel, TenantModel, Row):
    pass


# --- a tenant tree for the integration tests ------------------------------------------------


class Invoice(TenantBaseModel, VersionedModel):
    number = models.CharField(max_length=20)
    note = models.CharField(max_length=100, default="")
    total = models.DecimalField(max_digits=10, decimal_places=2, default=0)

    class Meta:
        constraints = [alive_unique("tenant", "number", name="composed_invoice_number_alive_uniq")]

    def __str__(self) -> str:
        return self.number


class InvoiceLine(VersionedModel, TenantBaseModel):
    invoice = models.ForeignKey(Invoice, on_delete=models.CASCADE, related_name="lines")
    amount = models.IntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.invoice_id}:{self.amount}"
