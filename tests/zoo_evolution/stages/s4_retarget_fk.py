"""Step 0 then this: ``Part.supplier`` is altered to point at another tenant model."""

from django.db import models

from django_prodpatterns.models import TenantBaseModel


class Supplier(TenantBaseModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Label(TenantBaseModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Part(TenantBaseModel):
    name = models.CharField(max_length=50)
    supplier = models.ForeignKey(Label, models.CASCADE, related_name="supplied_parts")
    labels = models.ManyToManyField(Label, blank=True, related_name="parts")

    def __str__(self) -> str:
        return self.name
