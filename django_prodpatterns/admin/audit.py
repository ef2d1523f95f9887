"""The audit log in the admin: read-only browsing, diffs, per-object history, revert.

Built to stay fast on millions of entries: the changelist never runs a full ``COUNT(*)``
(see :class:`EstimatedCountPaginator`), the filters offer fixed choices (no
``SELECT DISTINCT`` over the log), and search is an exact match on indexed columns.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.views.main import PAGE_VAR
from django.core.exceptions import EmptyResultSet, FieldError, PermissionDenied
from django.core.paginator import Paginator
from django.db import connections, models
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.functional import cached_property
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _

from ..conf import app_settings
from ..context import get_current_tenant_pk
from ..exceptions import ConflictError
from ..markers import VERSION, is_audited, is_versioned
from ..models.audit import BOOKKEEPING, AuditLog, audit_label

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.urls import URLPattern
    from django_stubs_ext import StrOrPromise

    # For type checkers these bases are generic classes of a model; at run time they are
    # Django's classes themselves (not subscriptable there), and the mixin's a plain
    # class (Generic, so that ``AuditHistoryMixin[Post]`` is valid there too).
    _ModelPaginator = Paginator[models.Model]
    _AuditLogModelAdmin = admin.ModelAdmin[AuditLog]
    _ModelAdminOf = admin.ModelAdmin
else:
    _ModelPaginator = Paginator
    _AuditLogModelAdmin = admin.ModelAdmin
    _ModelAdminOf = Generic

_ModelT = TypeVar("_ModelT", bound=models.Model)

__all__ = [
    "ActorFilter",
    "AtLeast",
    "AuditHistoryMixin",
    "AuditLogAdmin",
    "EstimatedCountPaginator",
    "ModelFilter",
    "WhenFilter",
    "diff_table",
    "history_url",
    "visible_staff",
]


class AtLeast(int):
    """A count that stopped at its bound: reads "1000+", and is the bound in arithmetic.

    With ``USE_THOUSAND_SEPARATOR`` Django regroups the characters of ``str()``, which
    would garble the suffix ("10,00+"); then the bound is shown as a plain number.
    """

    def __str__(self) -> str:
        return f"{int(self)}" if settings.USE_THOUSAND_SEPARATOR else f"{int(self)}+"


class EstimatedCountPaginator(_ModelPaginator):
    """Counts for the audit changelist: cheap on a big log, and only of what the viewer sees.

    - The whole log, for a viewer who sees all of it (no tenant in force, and row level
      security does not apply to the connection: the log's owner, a superuser, a
      BYPASSRLS role): above ``BOUND`` entries, the planner's estimate
      (``pg_class.reltuples``) instead of a ``COUNT(*)`` that reads every row.
    - Everything else, that is a filtered list or any viewer under row level security
      (a tenant's staff, or the application role without a tenant): an exact count that
      stops after ``BOUND`` rows, or a few pages past the requested one
      (``SELECT count(*) FROM (SELECT id FROM ... WHERE <filters> LIMIT n + 1)``: at most
      ``n + 1`` rows read, about what the page's own OFFSET query reads to get there).
      Above the bound the list says "1000+ audit log", as search engines do, and the page
      links reach ``AHEAD`` pages past the current one; going there counts further.

    The estimate is never shown to a viewer under row level security: ``reltuples`` counts
    every tenant's entries, so a tenant with 9 entries read "1226 audit log" and could
    watch the other tenants' activity grow. Nor is an exact ``COUNT(*)`` of their own rows
    run: on a big log it would read every visible row on every page view.
    """

    BOUND = 1000
    AHEAD = 10  # pages counted past the requested one

    def __init__(self, *args: Any, page: int = 1, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.requested_page = page

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if (
            not isinstance(queryset, models.QuerySet)
            or not queryset.db
            or connections[queryset.db].vendor != "postgresql"
        ):
            return super().count
        query = queryset.query
        connection = connections[queryset.db]
        bound = max(self.BOUND, (self.requested_page + self.AHEAD) * self.per_page)
        capped = queryset.order_by().values("pk")[: bound + 1]
        try:
            capped_sql, capped_params = capped.query.get_compiler(using=queryset.db).as_sql()
        except EmptyResultSet:
            return 0
        whole_log = not query.where and get_current_tenant_pk() is None
        with connection.cursor() as cursor:
            # One query either way; the CASE runs the capped count only when it is needed.
            cursor.execute(
                "SELECT s.estimated, CASE WHEN s.estimated THEN s.reltuples"
                f" ELSE (SELECT count(*) FROM ({capped_sql}) AS capped) END"
                " FROM (SELECT %s AND c.reltuples > %s"
                " AND NOT pg_catalog.row_security_active(c.oid) AS estimated,"
                " c.reltuples::bigint AS reltuples"
                " FROM pg_catalog.pg_class AS c WHERE c.oid = %s::regclass) AS s",
                [
                    *capped_params,
                    whole_log,
                    self.BOUND,
                    connection.ops.quote_name(queryset.model._meta.db_table),
                ],
            )
            estimated, count = cursor.fetchone()
        return count if estimated or count <= bound else AtLeast(bound)


class ModelFilter(admin.SimpleListFilter):
    title = _("model")
    parameter_name = "model"

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[AuditLog]
    ) -> list[tuple[str, StrOrPromise]]:
        labels = {audit_label(m) for m in apps.get_models() if is_audited(m)}
        return [(label, label) for label in sorted(labels)]

    def queryset(
        self, request: HttpRequest, queryset: models.QuerySet[AuditLog]
    ) -> models.QuerySet[AuditLog]:
        return queryset.filter(model=self.value()) if self.value() else queryset


def visible_staff() -> models.QuerySet[AbstractBaseUser]:
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

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[AuditLog]
    ) -> list[tuple[str, StrOrPromise]]:
        staff = visible_staff().order_by("pk")[:50]
        return [(str(user.pk), str(user)) for user in staff]

    def queryset(
        self, request: HttpRequest, queryset: models.QuerySet[AuditLog]
    ) -> models.QuerySet[AuditLog]:
        return queryset.filter(actor_id=self.value()) if self.value() else queryset


class WhenFilter(admin.SimpleListFilter):
    title = _("when")
    parameter_name = "since"
    DAYS = {"1": 1, "7": 7, "30": 30, "365": 365}

    def lookups(
        self, request: HttpRequest, model_admin: admin.ModelAdmin[AuditLog]
    ) -> list[tuple[str, StrOrPromise]]:
        return [
            ("1", _("Last 24 hours")),
            ("7", _("Last 7 days")),
            ("30", _("Last 30 days")),
            ("365", _("Last year")),
        ]

    def queryset(
        self, request: HttpRequest, queryset: models.QuerySet[AuditLog]
    ) -> models.QuerySet[AuditLog]:
        days = self.DAYS.get(self.value() or "")
        if days is None:
            return queryset
        return queryset.filter(timestamp__gte=timezone.now() - timedelta(days=days))


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


def _show(value: object) -> str:
    return "∅" if value is None else str(value)


class AuditLogAdmin(_AuditLogModelAdmin):
    """Read-only: nobody adds, changes or deletes entries through the admin.

    Registered for ``AuditLog`` on ``admin.site`` by :mod:`django_prodpatterns.admin`.
    """

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
    fields = list(readonly_fields)

    def get_paginator(
        self,
        request: HttpRequest,
        queryset: models.QuerySet[AuditLog],
        per_page: int,
        orphans: int = 0,
        allow_empty_first_page: bool = True,
    ) -> Paginator[models.Model]:
        if not issubclass(self.paginator, EstimatedCountPaginator):
            return super().get_paginator(
                request, queryset, per_page, orphans, allow_empty_first_page
            )
        # The changelist validates the page number itself; here it only sizes the count
        # (bounded, so that the LIMIT stays a bigint).
        try:
            page = min(max(1, int(request.GET.get(PAGE_VAR, 1))), 10**9)
        except ValueError:
            page = 1
        return self.paginator(queryset, per_page, orphans, allow_empty_first_page, page=page)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: AuditLog | None = None) -> bool:
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

    def get_urls(self) -> list[URLPattern]:
        revert = self.admin_site.admin_view(self.revert_view)
        return [
            path("<int:entry_id>/revert/", revert, name="prodpatterns_auditlog_revert"),
            *super().get_urls(),
        ]

    def revert_view(self, request: HttpRequest, entry_id: int) -> HttpResponse:
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
                "version": getattr(current, VERSION) if versioned else None,
            },
        )


def history_url(model: type[models.Model] | models.Model, pk: object) -> str:
    """The audit changelist filtered to one object."""
    base = reverse("admin:prodpatterns_auditlog_changelist")
    return f"{base}?{urlencode({'model': audit_label(model), 'q': str(pk)})}"


class AuditHistoryMixin(_ModelAdminOf[_ModelT]):
    """For ModelAdmins of audited models: "History" opens the object's audit entries."""

    def history_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(history_url(self.model, object_id))
