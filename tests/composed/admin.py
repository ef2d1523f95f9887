from django.contrib import admin

from django_prodpatterns.admin import (
    AuditHistoryMixin,
    SoftDeleteAdmin,
    VersionedAdminMixin,
    VersionedInlineMixin,
)

from .models import Invoice, InvoiceLine


class InvoiceLineInline(VersionedInlineMixin, admin.TabularInline):
    model = InvoiceLine
    fields = ["amount"]
    extra = 0


@admin.register(Invoice)
class InvoiceAdmin(VersionedAdminMixin, AuditHistoryMixin, SoftDeleteAdmin):
    fields = ["number", "note"]
    list_display = ["number", "note"]
    list_editable = ["note"]
    inlines = [InvoiceLineInline]
