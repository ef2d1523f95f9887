"""A project whose tenant model is its own, keyed by a 32-bit integer
(tests/settings_inttenant.py).

``Company.id`` is an explicit ``AutoField``, so the tenant columns are ``integer`` while
every other key of the app is the default ``bigint``: nothing may assume one key type.
"""

from django.db import models

from django_prodpatterns.models import TenantBaseModel, VersionedModel


class Company(models.Model):
    id = models.AutoField(primary_key=True)
    name = models.CharField(max_length=100)
    slug = models.SlugField(unique=True)

    def __str__(self) -> str:
        return self.name


class Label(TenantBaseModel):
    name = models.CharField(max_length=50)

    def __str__(self) -> str:
        return self.name


class Project(TenantBaseModel, VersionedModel):
    name = models.CharField(max_length=100)
    labels = models.ManyToManyField(Label, related_name="projects", blank=True)

    def __str__(self) -> str:
        return self.name


class Task(TenantBaseModel, VersionedModel):
    project = models.ForeignKey(Project, models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title
