"""Benchmark models: a parent -> child -> grandchild chain per library.

The tables are created with ``migrate --run-syncdb`` (this app has no migrations): they
exist only in the benchmark database.
"""

from django.db import models

from django_prodpatterns.models import SoftDeleteModel


class Parent(SoftDeleteModel):
    name = models.CharField(max_length=20, default="")


class Child(SoftDeleteModel):
    parent = models.ForeignKey(Parent, models.CASCADE)


class GrandChild(SoftDeleteModel):
    child = models.ForeignKey(Child, models.CASCADE)


try:
    from safedelete import SOFT_DELETE_CASCADE
    from safedelete.models import SafeDeleteModel
except ImportError:  # django-safedelete is optional (pip install -e ".[bench]")
    SafeDeleteModel = None

if SafeDeleteModel is not None:

    class SafeParent(SafeDeleteModel):
        _safedelete_policy = SOFT_DELETE_CASCADE
        name = models.CharField(max_length=20, default="")

    class SafeChild(SafeDeleteModel):
        _safedelete_policy = SOFT_DELETE_CASCADE
        parent = models.ForeignKey(SafeParent, models.CASCADE)

    class SafeGrandChild(SafeDeleteModel):
        _safedelete_policy = SOFT_DELETE_CASCADE
        child = models.ForeignKey(SafeChild, models.CASCADE)


# --- audit -----------------------------------------------------------------------------------

from django_prodpatterns.models import AuditedModel  # noqa: E402


class PlainRow(models.Model):
    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)


class AuditedRow(AuditedModel):
    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)


try:
    from simple_history.models import HistoricalRecords
except ImportError:  # pip install -e ".[bench]"
    HistoricalRecords = None

if HistoricalRecords is not None:

    class SimpleHistoryRow(models.Model):
        name = models.CharField(max_length=50)
        value = models.IntegerField(default=0)
        history = HistoricalRecords()


try:
    from auditlog.registry import auditlog
except ImportError:
    auditlog = None

if auditlog is not None:

    class AuditlogRow(models.Model):
        name = models.CharField(max_length=50)
        value = models.IntegerField(default=0)

    auditlog.register(AuditlogRow)


# --- optimistic locking ------------------------------------------------------------------------

from django_prodpatterns.models import VersionedModel  # noqa: E402


class VersionedRow(VersionedModel):
    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)


try:
    from concurrency.fields import IntegerVersionField
except ImportError:  # pip install -e ".[bench]"
    IntegerVersionField = None

if IntegerVersionField is not None:

    class ConcurrencyRow(models.Model):
        name = models.CharField(max_length=50)
        value = models.IntegerField(default=0)
        version = IntegerVersionField()


# --- keyset pagination and bulk writes -----------------------------------------------------------

from django_prodpatterns.models import TenantModel, TimestampedModel  # noqa: E402


class PageRow(models.Model):
    """A million rows, paged by (rank, id) through the index below."""

    rank = models.IntegerField()
    title = models.CharField(max_length=50)

    class Meta:
        indexes = [models.Index(fields=["rank", "id"], name="bench_pagerow_rank_id")]


class BulkTenantRow(TenantModel, TimestampedModel, AuditedModel):
    """RLS and audit on."""

    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)


class BulkPlainRow(TimestampedModel):
    """The same columns, with neither RLS nor audit."""

    tenant_id = models.BigIntegerField()
    name = models.CharField(max_length=50)
    value = models.IntegerField(default=0)
