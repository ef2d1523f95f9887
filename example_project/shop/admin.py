"""The shop's admin: every pattern's admin mixin at work."""

from django.contrib import admin
from django.db.models import Count

from django_prodpatterns.admin import AuditHistoryMixin, SoftDeleteAdmin, VersionedAdminMixin

from .models import Customer, Order, OrderItem, Product, StaffMember, Store


class ShopAdmin(AuditHistoryMixin, SoftDeleteAdmin):
    """Soft delete with trash and restore; "History" opens the audit trail."""

    readonly_fields = ["created_at", "updated_at"]


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]


@admin.register(StaffMember)
class StaffMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "store"]


@admin.register(Customer)
class CustomerAdmin(ShopAdmin):
    list_display = ["name", "email", "updated_at"]
    search_fields = ["name", "email"]
    ordering = ["name", "pk"]  # autocomplete pages: an unordered page may repeat or skip rows


@admin.register(Product)
class ProductAdmin(ShopAdmin):
    list_display = ["name", "sku", "price", "updated_at"]
    search_fields = ["name", "sku"]
    ordering = ["name", "pk"]


class OrderItemInline(admin.TabularInline):
    model = OrderItem
    fields = ["product", "quantity", "unit_price"]
    autocomplete_fields = ["product"]
    extra = 0


@admin.register(Order)
class OrderAdmin(VersionedAdminMixin, ShopAdmin):
    list_display = ["number", "customer", "status", "items_count", "placed_at", "version"]
    list_filter = ["status", "customer"]
    list_editable = ["status"]
    list_select_related = ["customer"]
    search_fields = ["number", "customer__name"]
    autocomplete_fields = ["customer"]
    fields = ["number", "customer", "status", "placed_at", "note"]
    readonly_fields = []
    inlines = [OrderItemInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(items_count=Count("items"))

    @admin.display(description="items", ordering="items_count")
    def items_count(self, order):
        return order.items_count


@admin.register(OrderItem)
class OrderItemAdmin(ShopAdmin):
    list_display = ["order", "product", "quantity", "unit_price"]
    list_select_related = ["order", "product"]
    search_fields = ["order__number", "product__name"]
