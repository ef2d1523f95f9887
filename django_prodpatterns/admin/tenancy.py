"""Tenants in the admin: the default tenant model's admin, and staff acting for a tenant.

- :class:`TenantAdmin` manages the default tenant model (``prodpatterns.Tenant``); it is
  registered (by :func:`register_tenant_admin`, which :mod:`django_prodpatterns.admin`
  calls) only while that model is the tenant model. A project with its own tenant model
  (``PRODPATTERNS_TENANT_MODEL``) registers its own admin for it.
- :class:`TenantAccessAdmin` (registered by :mod:`django_prodpatterns.admin`) lists who
  acted for which tenant, when and why (read-only), and adds two views under it: *Act for
  a tenant* (``…/tenantaccess/act/``), which explains to staff why they see no tenant's
  rows and lets those with ``prodpatterns.act_for_tenant`` choose a tenant, and *leave*
  (``…/tenantaccess/leave/``, POST), one click from the banner.
- :func:`no_tenant_page` is what ``TenantMiddleware`` answers staff whose admin page needed
  a tenant they do not have: the same explanation, as an admin page, with a 403.
- :func:`add_admin_notices` puts the banner of a staff member acting for a tenant on every
  admin page, and a notice for staff without a tenant on the index and on (empty) lists of
  tenant models.

The rules of acting for a tenant (who may, what is recorded, how a session is checked)
live in :mod:`django_prodpatterns.acting`; this module is their admin face.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from typing import TYPE_CHECKING, Any

from django import forms
from django.apps import apps
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.sites import AdminSite, all_sites
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, ResolverMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.text import Truncator
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from ..acting import (
    PERMISSION,
    cross_tenant_alias,
    find_tenant,
    may_act_for_tenants,
    start_acting,
    stop_acting,
)
from ..markers import CREATED_AT, TIMESTAMP_FIELDS, is_tenant_scoped
from ..models.acting import TenantAccess
from ..models.tenancy import Tenant, get_tenant_model
from ..resolvers import explain_no_tenant

if TYPE_CHECKING:
    from django.contrib.admin.views.main import ChangeList

    # For type checkers these are ModelAdmins of their model; at run time Django's
    # ModelAdmin itself (not subscriptable there).
    _TenantAccessModelAdmin = admin.ModelAdmin[TenantAccess]
    _TenantModelAdmin = admin.ModelAdmin[Tenant]
else:
    _TenantAccessModelAdmin = _TenantModelAdmin = admin.ModelAdmin

TENANTS_PER_PAGE = 50
TEMPLATE = "prodpatterns/admin/act_for_tenant.html"

__all__ = [
    "TEMPLATE",
    "TENANTS_PER_PAGE",
    "ActForTenantForm",
    "TenantAccessAdmin",
    "TenantAdmin",
    "add_admin_notices",
    "no_tenant_page",
    "register_tenant_admin",
]


def _url(site: AdminSite, name: str) -> str | None:
    """The URL of one of the acting views on ``site``, or None where they are not there."""
    try:
        return reverse(f"{site.name}:prodpatterns_tenantaccess_{name}")
    except NoReverseMatch:
        return None


def _site(namespace: str) -> AdminSite | None:
    return next((site for site in all_sites if site.name == namespace), None)


def _safe_next(request: HttpRequest, target: str | None, site: AdminSite) -> str:
    """``target`` when it stays on this site, else the admin's index (no open redirect)."""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(f"{site.name}:index")


def _search(
    request: HttpRequest, site: AdminSite, queryset: models.QuerySet[models.Model], query: str
) -> models.QuerySet[models.Model]:
    """Tenants matching ``query``: the tenant model's admin search when it has one, else
    its text fields (contains) and its primary key (equals)."""
    model = queryset.model
    model_admin = site._registry.get(model)
    if model_admin is not None and model_admin.get_search_fields(request):
        found, _duplicates = model_admin.get_search_results(request, queryset, query)
        return found
    condition = models.Q()
    for field in model._meta.concrete_fields:
        if isinstance(field, models.CharField | models.TextField):
            condition |= models.Q(**{f"{field.name}__icontains": query})
    with suppress(ValidationError):  # a query that cannot be a key is only text
        condition |= models.Q(pk=model._meta.pk.to_python(query))
    return queryset.filter(condition)


class ActForTenantForm(forms.Form):
    """The choice of a tenant, with the reason that goes into the audit log."""

    tenant = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text=_("Stored in the audit log with your choice, e.g. the support ticket."),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, using: str | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.using = using

    def clean_tenant(self) -> models.Model:
        tenant = find_tenant(self.cleaned_data["tenant"], using=self.using)
        if tenant is None:
            raise ValidationError(gettext("Choose a tenant from the list."))
        return tenant


class TenantAccessAdmin(_TenantAccessModelAdmin):
    """Who acted for which tenant, when and why; and the views to start and stop.

    Read-only: a row is written by choosing a tenant and ended by leaving it (or logging
    out, or choosing another), each audited; nobody edits or deletes the record.
    """

    list_display = ["user_repr", "tenant_repr", "started_at", "ended_at", "reason"]
    list_filter = [("ended_at", admin.EmptyFieldListFilter)]
    search_fields = ["user_repr", "tenant_repr", "reason", "=user_key", "=tenant_key"]
    ordering = ["-started_at"]
    change_list_template = "prodpatterns/admin/tenantaccess_change_list.html"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: TenantAccess | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TenantAccess | None = None) -> bool:
        return False

    def get_urls(self) -> list[URLPattern]:
        prefix = f"{self.opts.app_label}_{self.opts.model_name}"
        wrap = self.admin_site.admin_view
        return [
            path("act/", wrap(self.act_view), name=f"{prefix}_act"),
            path("leave/", wrap(require_POST(self.leave_view)), name=f"{prefix}_leave"),
            *super().get_urls(),
        ]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, object] | None = None
    ) -> HttpResponse:
        extra = {"act_url": _url(self.admin_site, "act"), **(extra_context or {})}
        return super().changelist_view(request, extra_context=extra)

    # --- the views ------------------------------------------------------------------------

    def act_view(self, request: HttpRequest) -> HttpResponse:
        """GET: why staff see no tenant's rows, and (to those who may) the choice of one.
        POST: act for the chosen tenant from now on."""
        alias = cross_tenant_alias()
        if request.method == "POST":
            if alias is None or not may_act_for_tenants(request.user):
                raise PermissionDenied
            form = ActForTenantForm(request.POST, using=alias)
            if form.is_valid():
                start_acting(request, form.cleaned_data["tenant"], form.cleaned_data["reason"])
                return HttpResponseRedirect(
                    _safe_next(request, form.cleaned_data["next"], self.admin_site)
                )
        else:
            initial = {"tenant": request.GET.get("tenant", ""), "next": request.GET.get("next")}
            form = ActForTenantForm(initial=initial, using=alias)
        return self.explanation(request, form=form)

    def leave_view(self, request: HttpRequest) -> HttpResponse:
        """Stop acting for a tenant: always allowed, whatever the permissions now."""
        access = getattr(request, "tenant_access", None)
        if stop_acting(request) and access is not None:
            messages.success(
                request,
                gettext("You no longer act for the tenant “%(tenant)s”.")
                % {"tenant": access.tenant_repr},
            )
        return HttpResponseRedirect(_safe_next(request, request.POST.get("next"), self.admin_site))

    def explanation(
        self, request: HttpRequest, form: ActForTenantForm | None = None, status: int = 200
    ) -> TemplateResponse:
        """The page that says why, and how to act for a tenant; with ``form``, the chooser."""
        alias = cross_tenant_alias()
        may_act = may_act_for_tenants(request.user)
        context: dict[str, object] = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": gettext("Act for a tenant") if form is not None else gettext("No tenant"),
            "no_tenant_page": form is None,
            "tenant": getattr(request, "tenant", None),
            "access": getattr(request, "tenant_access", None),
            "alias": alias,
            "may_act": may_act,
            "permission": PERMISSION,
            "act_url": _url(self.admin_site, "act"),
            "leave_url": _url(self.admin_site, "leave"),
            "why": explain_no_tenant(request) if settings.DEBUG else None,
            "form": form,
        }
        if form is not None and alias is not None and may_act:
            context.update(self._tenant_choices(request, alias, form))
        return TemplateResponse(request, TEMPLATE, context, status=status)

    def _tenant_choices(
        self, request: HttpRequest, alias: str, form: ActForTenantForm
    ) -> dict[str, object]:
        """One page of tenants, read through the cross-tenant alias, searched with ``q``."""
        tenants = get_tenant_model()._base_manager.using(alias).all()
        chosen = form["tenant"].value()
        query = request.GET.get("q", "").strip()
        if query:
            tenants = _search(request, self.admin_site, tenants, query)
        elif chosen and request.method == "GET":  # "Act for" from the tenant list
            tenant = find_tenant(chosen, alias)
            tenants = tenants.filter(pk=tenant.pk) if tenant is not None else tenants.none()
        if not tenants.ordered:
            tenants = tenants.order_by("pk")
        page = Paginator(tenants, TENANTS_PER_PAGE).get_page(request.GET.get("p"))
        return {"page": page, "query": query, "chosen": str(chosen or "")}


def no_tenant_page(request: HttpRequest, namespace: str) -> HttpResponse | None:
    """The 403 for staff on an admin page that needed a tenant: why, and what to do.
    None when that admin site has no :class:`TenantAccessAdmin` (the plain 403 then)."""
    site = _site(namespace)
    model_admin = site._registry.get(TenantAccess) if site is not None else None
    if not isinstance(model_admin, TenantAccessAdmin):
        return None
    return model_admin.explanation(request, status=403).render()


def _project_has_tenant_models() -> bool:
    return any(is_tenant_scoped(model) for model in apps.get_models())


def add_admin_notices(request: HttpRequest, response: HttpResponseBase) -> None:
    """The acting banner on every admin page (and a notice on the index for staff without a
    tenant), as messages: the admin shows them on every page, whatever its templates.

    Added just before the page renders, so this very page shows (and uses up) them; popups
    and pages that render no messages get none, so nothing is left for the next page.
    """
    context = getattr(response, "context_data", None)
    user = getattr(request, "user", None)
    if not isinstance(context, dict) or context.get("is_popup"):
        return
    if "popup_response_data" in context or not (user and user.is_active and user.is_staff):
        return
    match = request.resolver_match
    site = _site(match.namespace) if match is not None else None
    if (
        match is None
        or site is None
        or not isinstance(site._registry.get(TenantAccess), TenantAccessAdmin)
    ):
        return
    access = getattr(request, "tenant_access", None)
    if access is not None:
        messages.warning(request, _banner(request, site, access), fail_silently=True)
    elif getattr(request, "tenant", None) is None and _shows_tenant_data(match, context):
        messages.info(request, _notice(site), fail_silently=True)


def _shows_tenant_data(match: ResolverMatch, context: dict[str, Any]) -> bool:
    """The index (where staff arrive), or the list of a tenant model that came out empty
    instead of refused (an admin whose queryset is not tenant-scoped: row level security
    still hides every row)."""
    changelist: ChangeList | None = context.get("cl")
    if changelist is not None:
        return is_tenant_scoped(changelist.model)
    return match.url_name == "index" and _project_has_tenant_models()


def _banner(request: HttpRequest, site: AdminSite, access: TenantAccess) -> str:
    since = date_format(timezone.localtime(access.started_at), "SHORT_DATETIME_FORMAT")
    return format_html(
        "You are acting for the tenant “{}” since {} (reason: {}). Everything you see and "
        "change here is that tenant's, and is audited under your name. "
        '<form method="post" action="{}" style="display:inline">'
        '<input type="hidden" name="csrfmiddlewaretoken" value="{}">'
        '<button type="submit" class="button">{}</button></form>',
        access.tenant_repr,
        since,
        Truncator(access.reason).chars(80),
        _url(site, "leave"),
        get_token(request),
        gettext("Stop acting for this tenant"),
    )


def _notice(site: AdminSite) -> str:
    return format_html(
        "You have no tenant, so the rows of tenant models are hidden from you (row-level "
        'security). <a href="{}">Why, and how to act for a tenant</a>.',
        _url(site, "act"),
    )


class TenantAdmin(_TenantModelAdmin):
    """The default tenant model in the admin: list, search, add, rename.

    No delete: a tenant's rows keep it (their foreign keys PROTECT it), and a request
    without that tenant cannot see them, so the admin could neither list what a delete
    would take nor carry it out. Remove a tenant's data under its own tenant first
    (``for_each_tenant``, or a command through the owner alias), then the tenant.

    To change it, unregister it and register your own (as with ``auth.User``)::

        admin.site.unregister(Tenant)

        @admin.register(Tenant)
        class MyTenantAdmin(TenantAdmin): ...
    """

    list_display = ["name", "slug", CREATED_AT]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = list(TIMESTAMP_FIELDS)
    ordering = ["name"]

    def get_list_display(self, request: HttpRequest) -> list[str | Callable[[Tenant], str | bool]]:
        shown = list(super().get_list_display(request))
        if cross_tenant_alias() and may_act_for_tenants(request.user):
            shown.append("act_for")
        return shown

    @admin.display(description=_("act for"))
    def act_for(self, tenant: Tenant) -> str:
        url = _url(self.admin_site, "act")
        if url is None:
            return ""
        return format_html('<a href="{}?tenant={}">{}</a>', url, tenant.pk, gettext("Act for"))

    def has_delete_permission(self, request: HttpRequest, obj: Tenant | None = None) -> bool:
        return False


def register_tenant_admin(site: AdminSite = admin.site) -> None:
    """Register :class:`TenantAdmin` on ``site`` while the default tenant model is in use."""
    if Tenant._meta.swapped or get_tenant_model() is not Tenant or site.is_registered(Tenant):
        return
    site.register(Tenant, TenantAdmin)
