"""Step 1 then this: the renamed tenant foreign key is altered: PROTECT instead of CASCADE,
and nullable."""

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
    maker = models.ForeignKey(Supplier, models.PROTECT, null=True, blank=True, related_name="parts")
    labels = models.ManyToManyField(Label, blank=True, related_name="parts")

    def __str__(self) -> str:
        return self.name
