from django.contrib import admin

from django_prodpatterns.admin import AuditHistoryMixin, SoftDeleteAdmin

from .models import Category, Comment, Document, Post, Ticket


class CommentInline(admin.TabularInline):
    model = Comment
    fields = ["text"]
    extra = 0


@admin.register(Post)
class PostAdmin(SoftDeleteAdmin):
    list_display = ["title", "category"]
    inlines = [CommentInline]


@admin.register(Category)
class CategoryAdmin(SoftDeleteAdmin):
    list_display = ["name"]


@admin.register(Document)
class DocumentAdmin(AuditHistoryMixin, SoftDeleteAdmin):
    list_display = ["title"]


admin.site.register(Ticket)  # a plain ModelAdmin: "History" is linked to the audit log anyway
