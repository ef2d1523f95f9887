"""The zoo's proxies in the admin, each with the app's admin class for its base."""

from django.contrib import admin

from django_prodpatterns.admin import SoftDeleteAdmin, VersionedAdmin
from tests.zoo import models as zoo


@admin.register(zoo.DocProxy)
class DocProxyAdmin(SoftDeleteAdmin):
    list_display = ["name"]


@admin.register(zoo.TicketProxy)
class TicketProxyAdmin(VersionedAdmin):
    fields = ["title"]


@admin.register(zoo.EntryProxy)
class EntryProxyAdmin(admin.ModelAdmin):
    """A plain ModelAdmin: "History" is pointed at the audit log by the app itself."""

    fields = ["text"]
