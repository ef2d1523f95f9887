"""Staff acting for a tenant: the one way a person without a tenant works inside one.

Row level security shows a request only the rows of its tenant, so staff who belong to no
tenant (the superuser, support) see nothing of any tenant. Rather than a way around row
level security, they get a way *into* one tenant: a staff member holding the permission
``prodpatterns.act_for_tenant`` (superusers do) chooses a tenant in the admin, with a
reason, and from then on ``TenantMiddleware`` gives their requests that tenant, exactly as
it gives a member theirs. Everything they see is that tenant's; everything they change is
audited under their name and that tenant.

The rules, each enforced here:

- Acting needs the cross-tenant alias (``PRODPATTERNS["ADMIN_DATABASE"]``): it is the
  project's explicit decision that anyone may cross tenants at all. The choice is recorded
  and read back through it. Without it nobody acts for a tenant.
- Every choice is a :class:`~django_prodpatterns.models.TenantAccess` row, and so an audit
  entry written by the capture path (who, which tenant, when, from which request, why),
  under the chosen tenant: the tenant's own audit trail shows that staff came in. Leaving,
  switching to another tenant and logging out end the row, which is audited too.
- The session holds only the row's key. On every request the row must exist, belong to
  the same user and still be open, and the user must still be active staff with the
  permission; otherwise the session's choice is dropped and the request has no tenant. A
  session value alone (forged, copied from another user, left over) grants nothing.
- Choosing a tenant changes the session key, as logging in does.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.contrib.auth.signals import user_logged_out
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.dispatch import receiver
from django.http import HttpRequest
from django.utils import timezone

from .conf import app_settings
from .context import audit_context, tenant_context
from .models.acting import ACT_FOR_TENANT, TenantAccess
from .models.tenancy import get_tenant_model

# The session key that holds the pk of the request user's open TenantAccess row.
SESSION_KEY = "_prodpatterns_tenant_access"
# The permission (app_label.codename) that lets staff act for a tenant.
PERMISSION = f"prodpatterns.{ACT_FOR_TENANT}"

logger = logging.getLogger("django_prodpatterns.acting")


def cross_tenant_alias() -> str | None:
    """The alias acting is recorded through; None: acting for a tenant is off."""
    return app_settings.ADMIN_DATABASE


# Users are the project's user model's rows (or AnonymousUser, or None): read duck-typed.


def may_act_for_tenants(user: Any) -> bool:
    """Whether ``user`` may choose a tenant to act for: active staff with the permission."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.is_staff
        and user.has_perm(PERMISSION)
    )


def find_tenant(key: object, using: str | None = None) -> models.Model | None:
    """The tenant whose primary key is ``key``, or None (a malformed key names none)."""
    try:
        return get_tenant_model()._base_manager.using(using).filter(pk=key).first()
    except (ValueError, TypeError, ValidationError):
        return None


def _open_access(request: HttpRequest, key: Any) -> TenantAccess | None:
    """The open row the session names, if it is the request user's and they may act."""
    alias = cross_tenant_alias()
    user = getattr(request, "user", None)
    if alias is None or user is None or not may_act_for_tenants(user):
        return None
    try:
        pk = int(key)
    except (TypeError, ValueError):
        return None
    return (
        TenantAccess.objects.using(alias)
        .filter(pk=pk, user_key=str(user.pk), ended_at__isnull=True)
        .first()
    )


def acting_tenant(request: HttpRequest) -> models.Model | None:
    """The tenant the request's user acts for, or None; sets ``request.tenant_access``.

    Costs nothing unless the session holds a choice; then one query for the row and one
    for the tenant (the tenant through the default alias, so that ``request.tenant`` is
    written, if at all, through the application role).
    """
    request.tenant_access = None  # type: ignore[attr-defined]
    session = getattr(request, "session", None)
    if session is None or SESSION_KEY not in session:
        return None
    key = session[SESSION_KEY]
    access = _open_access(request, key)
    tenant = find_tenant(access.tenant_key) if access is not None else None
    if tenant is None:
        # Forged, another user's, ended, the permission withdrawn, the tenant gone: drop it.
        logger.warning(
            "Refused the session's tenant access %r for user %s: not an open access of "
            "this user, or the user may no longer act for a tenant.",
            key,
            getattr(getattr(request, "user", None), "pk", None),
        )
        del session[SESSION_KEY]
        return None
    request.tenant_access = access  # type: ignore[attr-defined]
    return tenant


def _end(accesses: Iterable[TenantAccess], reason: str, actor: object) -> None:
    """End open rows, each under its own tenant so that the entry belongs to it."""
    now = timezone.now()
    for access in accesses:
        with tenant_context(access.tenant_key), audit_context(actor=actor, reason=reason):
            access.ended_at = now
            access.save(update_fields=["ended_at"])


def start_acting(request: HttpRequest, tenant: models.Model, reason: str) -> TenantAccess:
    """Record that the request's user acts for ``tenant`` from now on, and remember it in
    the session. An earlier choice of the same user (any session) ends first: one tenant
    at a time.

    Raises:
        PermissionError: the user may not act for a tenant, or acting is off.
    """
    alias = cross_tenant_alias()
    user = request.user
    if alias is None or not may_act_for_tenants(user):
        raise PermissionError("This user may not act for a tenant.")
    with transaction.atomic(using=alias):
        open_rows = TenantAccess.objects.using(alias).filter(
            user_key=str(user.pk), ended_at__isnull=True
        )
        _end(
            open_rows.select_for_update(),
            "stopped acting: switched to another tenant",
            user,
        )
        with tenant_context(tenant), audit_context(actor=user, reason=reason):
            access = TenantAccess.objects.using(alias).create(
                user_key=str(user.pk),
                user_repr=str(user)[:255],
                tenant_key=str(tenant.pk),
                tenant_repr=str(tenant)[:255],
                reason=reason,
                started_at=timezone.now(),
            )
    request.session.cycle_key()  # a new privilege, a new session key (as at log-in)
    request.session[SESSION_KEY] = str(access.pk)
    return access


def stop_acting(request: HttpRequest, reason: str = "stopped acting: left") -> bool:
    """End the request user's acting (every open row of theirs); False when there was none."""
    session = getattr(request, "session", None)
    if session is not None:
        session.pop(SESSION_KEY, None)
    return end_all(getattr(request, "user", None), reason)


def end_all(user: Any, reason: str) -> bool:
    """End every open row of ``user``, audited with ``reason``."""
    alias = cross_tenant_alias()
    if alias is None or user is None or not user.is_authenticated:
        return False
    with transaction.atomic(using=alias):
        rows = list(
            TenantAccess.objects.using(alias)
            .select_for_update()
            .filter(user_key=str(user.pk), ended_at__isnull=True)
        )
        _end(rows, reason, user)
    return bool(rows)


@receiver(user_logged_out, dispatch_uid="django_prodpatterns.acting.logged_out")
def _end_on_log_out(
    sender: object, request: HttpRequest | None, user: Any, **kwargs: object
) -> None:
    """Logging out of the session that acts ends acting: the session is gone, and the
    record says so. (Logging out elsewhere leaves it: that session never acted.)"""
    session = getattr(request, "session", None)
    if user is not None and session is not None and SESSION_KEY in session:
        end_all(user, "stopped acting: logged out")
