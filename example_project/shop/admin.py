from django.contrib import admin

from django_prodpatterns.admin import SoftDeleteAdmin

from .models import Category, Product


class ProductInline(admin.TabularInline):
    model = Product
    fields = ["name", "price"]
    extra = 0


@admin.register(Category)
class CategoryAdmin(SoftDeleteAdmin):
    list_display = ["name", "created_at", "updated_at"]
    inlines = [ProductInline]


@admin.register(Product)
class ProductAdmin(SoftDeleteAdmin):
    list_display = ["name", "category", "price", "created_at", "updated_at"]
    list_filter = ["category"]
    readonly_fields = ["created_at", "updated_at"]
