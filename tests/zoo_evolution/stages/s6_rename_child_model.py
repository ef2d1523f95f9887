"""Step 0 then this: the model that has the tenant foreign key and the many-to-many,
``Part``, is renamed ``Piece``."""

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


class Piece(TenantBaseModel):
    name = models.CharField(max_length=50)
    supplier = models.ForeignKey(Supplier, models.CASCADE, related_name="parts")
    labels = models.ManyToManyField(Label, blank=True, related_name="parts")

    def __str__(self) -> str:
        return self.name
