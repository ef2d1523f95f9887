"""Soft delete in the admin: alive/deleted filter, soft "Delete", previewed restore and
hard delete (the templates ``prodpatterns/admin/restore_confirmation.html`` and
``hard_delete_confirmation.html``).

Usage::

    from django_prodpatterns.admin import SoftDeleteAdmin

    @admin.register(Post)
    class PostAdmin(SoftDeleteAdmin):
        ...
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import get_deleted_objects, model_ngettext
from django.core.exceptions import PermissionDenied
from django.db import models, router
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.translation import gettext_lazy as _

from ..deletion import preview_transaction, restore_operation
from ..exceptions import RestoreConflict
from ..markers import DELETED_AT, SOFT_DELETE_FIELDS

if TYPE_CHECKING:
    # _ListFilterChoices, _ListFilterT: django-stubs' names (Django has no public ones).
    from django.contrib.admin.filters import _ListFilterChoices
    from django.contrib.admin.options import _ListFilterT
    from django.contrib.admin.views.main import ChangeList
    from django_stubs_ext import StrOrPromise

    from ..deletion import DeletionRun
    from ..models.softdelete import SoftDeleteModel
    from ..querysets import SoftDeleteQuerySetMixin

    # For type checkers the mixin is a ModelAdmin of its model; at run time it is a plain
    # class (Generic, so that ``SoftDeleteAdminMixin[Post]`` is valid there too).
    _ModelAdminOf = admin.ModelAdmin
else:
    _ModelAdminOf = Generic

_SoftT = TypeVar("_SoftT", bound="SoftDeleteModel")

PREVIEW_LIMIT = 100  # rows listed per model on a confirmation page

__all__ = ["DeletedStateFilter", "SoftDeleteAdmin", "SoftDeleteAdminMixin"]


class DeletedStateFilter(admin.SimpleListFilter):
    """Alive rows by default; deleted rows or every row on request."""

    title = _("deletion state")
    parameter_name = "deleted"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, StrOrPromise]]:
        return [("deleted", _("Deleted")), ("all", _("All"))]

    def choices(self, changelist: ChangeList) -> Iterator[_ListFilterChoices]:
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": _("Alive"),
        }
        for lookup, title in self.lookup_choices:
            yield {
                "selected": self.value() == lookup,
                "query_string": changelist.get_query_string({self.parameter_name: lookup}),
                "display": title,
            }

    def queryset(
        self, request: HttpRequest, queryset: models.QuerySet[models.Model]
    ) -> models.QuerySet[models.Model]:
        if self.value() == "deleted":
            return queryset.filter(**{f"{DELETED_AT}__isnull": False})
        if self.value() == "all":
            return queryset
        return queryset.filter(**{f"{DELETED_AT}__isnull": True})


class SoftDeleteAdminMixin(_ModelAdminOf[_SoftT]):
    """ModelAdmin behaviour for soft-delete models.

    - The changelist filters alive / deleted / all rows (alive by default) and marks
      deleted rows; change views open deleted rows too (read-only soft-delete columns).
    - "Delete" (the view and the stock action) soft-deletes.
    - "Restore selected" previews what the restore brings back, then restores.
    - "Hard-delete selected" lists the real cascade, as Django's delete does, then deletes.
    - Inlines of soft-delete models hide deleted rows (their default manager is alive-only).
    """

    actions = ["restore_selected", "hard_delete_selected"]

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[_SoftT]:
        queryset = self.model.all_objects.get_queryset()
        ordering = self.get_ordering(request)
        return queryset.order_by(*ordering) if ordering else queryset

    def get_list_filter(self, request: HttpRequest) -> list[_ListFilterT]:
        return [DeletedStateFilter, *super().get_list_filter(request)]

    def get_list_display(self, request: HttpRequest) -> list[str | Callable[[_SoftT], str | bool]]:
        return [*super().get_list_display(request), "deletion_state"]

    def get_readonly_fields(self, request: HttpRequest, obj: _SoftT | None = None) -> list[str]:
        return [*super().get_readonly_fields(request, obj), *SOFT_DELETE_FIELDS]

    @admin.display(description=_("deleted"))
    def deletion_state(self, obj: _SoftT) -> str:
        if obj.deleted_at is None:
            return ""
        return _("Deleted %(when)s") % {"when": obj.deleted_at.strftime("%Y-%m-%d %H:%M")}

    def _confirmation(
        self,
        request: HttpRequest,
        queryset: models.QuerySet[_SoftT],
        template: str,
        context: dict[str, object],
    ) -> TemplateResponse:
        opts = self.model._meta
        return TemplateResponse(
            request,
            f"prodpatterns/admin/{template}",
            {
                **self.admin_site.each_context(request),
                "opts": opts,
                "app_label": opts.app_label,
                "queryset": queryset,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                "media": self.media,
                **context,
            },
        )

    @admin.action(description=_("Restore selected %(verbose_name_plural)s"), permissions=["delete"])
    def restore_selected(
        self, request: HttpRequest, queryset: SoftDeleteQuerySetMixin[_SoftT]
    ) -> HttpResponse | None:
        using = router.db_for_write(self.model)
        if request.POST.get("post"):
            try:
                total, counts = queryset.restore()
            except RestoreConflict as exc:
                self.message_user(request, str(exc), messages.ERROR)
                return None
            self.message_user(
                request,
                _("Restored %(total)d rows (%(counts)s).")
                % {"total": total, "counts": _describe(counts)},
                messages.SUCCESS,
            )
            return None
        error: str | None = None
        preview: list[tuple[str, int, list[str]]] = []
        selected = queryset.filter(**{f"{DELETED_AT}__isnull": False}).count()
        with preview_transaction(using):
            try:
                op = restore_operation(queryset)
                preview = _preview(op, using)
            except RestoreConflict as exc:
                error = str(exc)
        restored_here = op.counts.get(self.model._meta.label, 0) if error is None else 0
        return self._confirmation(
            request,
            queryset,
            "restore_confirmation.html",
            {
                "title": _("Restore"),
                "action_name": "restore_selected",
                "confirm_label": _("Yes, restore") if preview and not error else None,
                "preview": preview,
                "error": error,
                "waiting": selected - restored_here if error is None else 0,
            },
        )

    @admin.action(
        description=_("Hard-delete selected %(verbose_name_plural)s"), permissions=["delete"]
    )
    def hard_delete_selected(
        self, request: HttpRequest, queryset: SoftDeleteQuerySetMixin[_SoftT]
    ) -> HttpResponse | None:
        deletable, model_count, perms_needed, protected = get_deleted_objects(
            queryset, request, self.admin_site
        )
        if request.POST.get("post") and not protected:
            if perms_needed:
                raise PermissionDenied
            count = queryset.count()
            queryset.hard_delete()
            self.message_user(
                request,
                _("Hard-deleted %(count)d %(items)s.")
                % {"count": count, "items": model_ngettext(self.opts, count)},
                messages.SUCCESS,
            )
            return None
        return self._confirmation(
            request,
            queryset,
            "hard_delete_confirmation.html",
            {
                "title": _("Hard delete"),
                "action_name": "hard_delete_selected",
                "confirm_label": None if perms_needed or protected else _("Yes, delete for real"),
                "deletable_objects": [deletable],
                "model_count": dict(model_count).items(),
                "perms_lacking": perms_needed,
                "protected": protected,
            },
        )


class SoftDeleteAdmin(SoftDeleteAdminMixin[_SoftT], admin.ModelAdmin):
    """A ModelAdmin for soft-delete models; see :class:`SoftDeleteAdminMixin`."""


def _describe(counts: dict[str, int]) -> str:
    return ", ".join(f"{label}: {count}" for label, count in sorted(counts.items()))


def _preview(op: DeletionRun, using: str) -> list[tuple[str, int, list[str]]]:
    """(model label, count, first rows as text) for each model the operation touched."""
    rows = []
    for label, model in sorted(op.models.items()):
        sample = model._base_manager.using(using).filter(deletion_batch=op.batch)
        rows.append((label, op.counts[label], [str(obj) for obj in sample[:PREVIEW_LIMIT]]))
    return rows
