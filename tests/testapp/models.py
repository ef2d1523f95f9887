"""Models the tests exercise; their migrations are committed like a user's would be."""

from django.db import models

from django_prodpatterns.models import TimestampedModel


class Article(TimestampedModel):
    """A plain timestamped model."""

    title = models.CharField(max_length=200)
    body = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return self.title


class Note(models.Model):
    """A table guarded by a hand-written RLS policy on ``prodpatterns.tenant_id``.

    It stands in for tenant models (a later pattern) so the context channel can be tested
    against real row-level security: rows are visible and writable only while the
    transaction-local tenant setting equals ``tenant_key``.
    """

    tenant_key = models.IntegerField()
    body = models.TextField(default="")

    def __str__(self) -> str:
        return self.body
