"""The audit log in the admin: read-only browsing, diffs, per-object history, revert.

Built to stay fast on millions of entries: the unfiltered changelist counts with the
planner's estimate instead of ``COUNT(*)``, the filters offer fixed choices (no
``SELECT DISTINCT`` over the log), and search is an exact match on indexed columns.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.contrib import admin, messages
from django.core.exceptions import FieldError, PermissionDenied
from django.core.paginator import Paginator
from django.db import connections
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from .conf import app_settings
from .context import get_current_tenant_pk
from .exceptions import ConflictError
from .markers import is_audited, is_versioned
from .models.audit import BOOKKEEPING, AuditLog, audit_label


class EstimatedCountPaginator(Paginator):
    """``COUNT(*)`` only for filtered lists; the whole log is counted from statistics."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        query = getattr(queryset, "query", None)
        if query is not None and not query.where and queryset.db:
            connection = connections[queryset.db]
            if connection.vendor == "postgresql":
                # One query either way: the planner's estimate for a big log, an exact
                # count for a small one.
                table = connection.ops.quote_name(queryset.model._meta.db_table)
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT CASE WHEN reltuples > 1000 THEN reltuples::bigint"
                        f" ELSE (SELECT count(*) FROM {table}) END"
                        " FROM pg_class WHERE oid = %s::regclass",
                        [table],
                    )
                    return cursor.fetchone()[0]
        return super().count


class ModelFilter(admin.SimpleListFilter):
    title = _("model")
    parameter_name = "model"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        labels = {audit_label(m) for m in apps.get_models() if is_audited(m)}
        return [(label, label) for label in sorted(labels)]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(model=self.value()) if self.value() else queryset


def visible_staff() -> Any:
    """Staff users a filter may name: under a tenant, that tenant's staff only.

    Listing every staff user would tell one tenant who works for the others. Membership
    is the ``TENANT_USER_ATTRIBUTE`` path (or its plural), as the resolvers read it.
    """
    from django.contrib.auth import get_user_model

    staff = get_user_model()._default_manager.filter(is_staff=True)
    tenant = get_current_tenant_pk()
    if tenant is None:
        return staff
    path = app_settings.TENANT_USER_ATTRIBUTE.replace(".", "__")
    for lookup in (path, f"{path}s"):
        try:
            return staff.filter(**{lookup: tenant})
        except FieldError:
            continue
    return staff.none()


class ActorFilter(admin.SimpleListFilter):
    """Staff users (a bounded list), or any actor id through ``?actor=<id>``."""

    title = _("actor")
    parameter_name = "actor"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        staff = visible_staff().order_by("pk")[:50]
        return [(str(user.pk), str(user)) for user in staff]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        return queryset.filter(actor_id=self.value()) if self.value() else queryset


class WhenFilter(admin.SimpleListFilter):
    title = _("when")
    parameter_name = "since"
    DAYS = {"1": 1, "7": 7, "30": 30, "365": 365}

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("1", _("Last 24 hours")),
            ("7", _("Last 7 days")),
            ("30", _("Last 30 days")),
            ("365", _("Last year")),
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> Any:
        days = self.DAYS.get(self.value() or "")
        if days is None:
            return queryset
        return queryset.filter(timestamp__gte=timezone.now() - timezone.timedelta(days=days))


def diff_table(entry: AuditLog) -> str:
    rows = sorted((entry.changes or {}).items())
    if not rows:
        return "-"
    body = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
        ((field, _show(old_new[0]), _show(old_new[1])) for field, old_new in rows),
    )
    return format_html(
        '<table class="audit-diff"><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>'
        "<tbody>{}</tbody></table>",
        _("field"),
        _("old"),
        _("new"),
        body,
    )


def _show(value: Any) -> str:
    return "∅" if value is None else str(value)


@admin.register(AuditLog)
class AuditLogAdmin(admin.ModelAdmin):
    """Read-only: nobody adds, changes or deletes entries through the admin."""

    list_display = ["id", "timestamp", "action", "model", "object_pk", "actor_repr", "request_id"]
    list_filter = [ModelFilter, "action", ActorFilter, WhenFilter]
    search_fields = ["=object_pk", "=request_id"]
    ordering = ["-id"]
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50
    readonly_fields = [
        "timestamp",
        "action",
        "model",
        "object_pk",
        "diff",
        "actor_id",
        "actor_repr",
        "tenant_id",
        "request_id",
        "ip_address",
        "user_agent",
        "path",
        "reason",
        "extra",
        "snapshot",
        "revert_link",
    ]
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("changes"))
    def diff(self, entry: AuditLog) -> str:
        return diff_table(entry)

    @admin.display(description=_("revert"))
    def revert_link(self, entry: AuditLog) -> str:
        if not entry.snapshot or entry.model_class() is None:
            return "-"
        url = reverse("admin:prodpatterns_auditlog_revert", args=[entry.pk])
        return format_html('<a class="button" href="{}">{}</a>', url, _("Revert to this version"))

    def get_urls(self) -> list[Any]:
        revert = self.admin_site.admin_view(self.revert_view)
        return [
            path("<int:entry_id>/revert/", revert, name="prodpatterns_auditlog_revert"),
            *super().get_urls(),
        ]

    def revert_view(self, request: HttpRequest, entry_id: int) -> Any:
        entry = get_object_or_404(self.get_queryset(request), pk=entry_id)
        model = entry.model_class()
        if model is None:
            raise Http404(f"Audit entry {entry.pk} is about a model that no longer exists.")
        if not request.user.has_perm(f"{model._meta.app_label}.change_{model._meta.model_name}"):
            raise PermissionDenied
        current = model._base_manager.filter(pk=entry.object_pk).first()
        target = {k: v for k, v in entry.field_values().items() if k not in BOOKKEEPING}
        changes = [
            (name, None if current is None else getattr(current, name, None), value)
            for name, value in sorted(target.items())
            if current is None or getattr(current, name, None) != value
        ]
        versioned = current is not None and is_versioned(model)
        if request.method == "POST":
            try:
                seen = int(request.POST.get("version", "")) if versioned else None
                entry.revert(expected_version=seen)
            except (ValueError, ConflictError):
                # The row moved since this page showed it: show what reverting does now.
                self.message_user(
                    request,
                    _("The object changed after you opened this page; review the changes again."),
                    messages.ERROR,
                )
                return HttpResponseRedirect(request.path)
            self.message_user(
                request, _("Reverted to audit entry %(id)s.") % {"id": entry.pk}, messages.SUCCESS
            )
            return HttpResponseRedirect(history_url(model, entry.object_pk))
        return TemplateResponse(
            request,
            "prodpatterns/admin/audit_revert.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "title": _("Revert to this version"),
                "entry": entry,
                "changes": changes,
                "recreate": current is None,
                "version": current.version if versioned else None,
            },
        )


def history_url(model: Any, pk: Any) -> str:
    """The audit changelist filtered to one object."""
    base = reverse("admin:prodpatterns_auditlog_changelist")
    return f"{base}?{urlencode({'model': audit_label(model), 'q': str(pk)})}"


class AuditHistoryMixin:
    """For ModelAdmins of audited models: "History" opens the object's audit entries."""

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None):
        return HttpResponseRedirect(history_url(self.model, object_id))
