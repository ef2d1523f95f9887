"""Staff acting for a tenant: one row per choice, audited like any other write.

Only the capture path (the audit triggers) writes the audit log; the application role
cannot insert into it. So a staff member's choice of a tenant to act for is itself a row
of an audited model: creating it and ending it leave audit entries, with the actor, the
tenant, the request and the reason, in the same way as every other change. The row is also
what the session points at: ``TenantMiddleware`` honours a session's choice only while its
row exists, belongs to the same user and is still open (see :mod:`django_prodpatterns.acting`).

No foreign keys: the user is kept as its key (like the audit log's ``actor_id``), so the
app's migrations never depend on the project's user model, whose own migrations often
depend on this app (a custom user with a ``tenant`` foreign key); the tenant likewise,
whatever model ``PRODPATTERNS_TENANT_MODEL`` names.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from .audit import AuditedModel

# app_label.codename: staff holding it (superusers do) may choose a tenant to act for.
ACT_FOR_TENANT = "act_for_tenant"


class TenantAccess(AuditedModel):
    """A staff member's time acting for one tenant: from ``started_at`` to ``ended_at``."""

    user_key = models.CharField(_("user"), max_length=255, db_index=True)
    user_repr = models.CharField(_("user (as shown then)"), max_length=255)
    tenant_key = models.CharField(_("tenant"), max_length=255)
    tenant_repr = models.CharField(_("tenant (as shown then)"), max_length=255)
    reason = models.TextField(_("reason"))
    started_at = models.DateTimeField(_("started at"))
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)

    class Meta:
        verbose_name = _("staff access to a tenant")
        verbose_name_plural = _("staff access to tenants")
        # Rows are written only by choosing and leaving a tenant: no add, change or delete
        # permission that could suggest otherwise.
        default_permissions = ("view",)
        permissions = [(ACT_FOR_TENANT, _("Can act for any tenant"))]

    def __str__(self) -> str:
        return f"{self.user_repr} for {self.tenant_repr}"
