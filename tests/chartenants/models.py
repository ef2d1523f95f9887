"""A project whose tenant model is its own, keyed by a natural text key
(tests/settings_chartenant.py): ``Workspace.slug`` is the primary key, so the tenant
columns are ``varchar(50)`` and the current tenant is a slug, not a number."""

from django.db import models

from django_prodpatterns.models import TenantBaseModel, VersionedModel


class Workspace(models.Model):
    slug = models.SlugField(primary_key=True, max_length=50)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.name


class Tag(TenantBaseModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Document(VersionedModel, TenantBaseModel):
    title = models.CharField(max_length=100)
    tags = models.ManyToManyField(Tag, related_name="documents", blank=True)

    def __str__(self) -> str:
        return self.title


class Page(VersionedModel, TenantBaseModel):
    document = models.ForeignKey(Document, models.CASCADE, related_name="pages")
    body = models.TextField()

    def __str__(self) -> str:
        return self.body[:50]
