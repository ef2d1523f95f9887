"""The example shop's models; they grow with each pattern the app gains."""

from django.db import models

from django_prodpatterns.models import SoftDeleteModel, TimestampedModel, alive_unique


class Category(SoftDeleteModel, TimestampedModel):
    name = models.CharField(max_length=100)

    class Meta:
        verbose_name_plural = "categories"
        constraints = [alive_unique("name", name="shop_category_name_alive_uniq")]

    def __str__(self) -> str:
        return self.name


class Product(SoftDeleteModel, TimestampedModel):
    category = models.ForeignKey(
        Category, models.CASCADE, null=True, blank=True, related_name="products"
    )
    name = models.CharField(max_length=200)
    price = models.DecimalField(max_digits=10, decimal_places=2)

    def __str__(self) -> str:
        return self.name
