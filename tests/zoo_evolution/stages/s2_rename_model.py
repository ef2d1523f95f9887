"""Step 0 then this: the referenced tenant model ``Supplier`` is renamed ``Vendor``."""

from django.db import models

from django_prodpatterns.models import TenantBaseModel


class Vendor(TenantBaseModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Label(TenantBaseModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Part(TenantBaseModel):
    name = models.CharField(max_length=50)
    supplier = models.ForeignKey(Vendor, models.CASCADE, related_name="parts")
    labels = models.ManyToManyField(Label, blank=True, related_name="parts")

    def __str__(self) -> str:
        return self.name
