"""A project that switched to Citus: its first migration was written on one PostgreSQL
server (Citus mode off), its second by makemigrations once Citus mode was on. The tests
move rows it already has onto the cluster with that second migration; Account was audited
on one server (statement triggers) and is captured row by row on the cluster."""

from django.db import models

from django_prodpatterns.models import AuditedModel, SoftDeleteModel, TenantModel


class Account(TenantModel, SoftDeleteModel, AuditedModel):
    name = models.CharField(max_length=100)


class Invoice(TenantModel, SoftDeleteModel):
    account = models.ForeignKey(Account, models.CASCADE, related_name="invoices")
    number = models.IntegerField()


class Note(models.Model):
    """A shared table (not a tenant model) that points at the tenant model."""

    tenant = models.ForeignKey("prodpatterns.Tenant", models.CASCADE, related_name="+")
    text = models.TextField(default="")

    def __str__(self) -> str:
        return self.text
