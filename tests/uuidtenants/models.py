"""A project whose tenant model is its own, keyed by UUID (tests/settings_uuid.py)."""

import uuid

from django.db import models

from django_prodpatterns.models import TenantModel


class Organization(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.name


class Invoice(TenantModel):
    number = models.CharField(max_length=20)

    def __str__(self) -> str:
        return self.number


class Line(TenantModel):
    invoice = models.ForeignKey(Invoice, models.CASCADE, related_name="lines")
    text = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.text
