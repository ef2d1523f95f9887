"""The example shop's models; they grow with each pattern the app gains."""

from django.db import models

from django_prodpatterns.models import TimestampedModel


class Product(TimestampedModel):
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return self.name
