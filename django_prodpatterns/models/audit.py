"""The audit trail: AuditLog entries, written by database triggers, and AuditedModel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django.db import connection, models, transaction
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from ..conf import app_settings
from ..context import audit_context
from ..exceptions import ConflictError
from ..markers import (
    BOOKKEEPING_FIELDS,
    TENANT_FIELD,
    UPDATED_AT,
    VERSION,
    has_updated_at,
    is_tenant_scoped,
    is_versioned,
)
from ..querysets import rows_of
from ..relations import concrete_model_of

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

    from .locking import VersionedModel

ACTIONS = [
    ("create", _("create")),
    ("update", _("update")),
    ("delete", _("delete")),
    ("soft_delete", _("soft delete")),
    ("restore", _("restore")),
    ("prune", _("prune")),  # written by prune_audit, about the log itself
    # Written by audit_backfill() (django_prodpatterns.backfill): rows written without
    # per-row entries, counted per model, in one entry.
    ("backfill", _("backfill")),
]
# Never written back by a revert: history is not rewritten, a version only moves forward,
# and a deleted row comes back with its batch through restore(), not half of it here.
BOOKKEEPING = BOOKKEEPING_FIELDS


def audit_label(model: type[models.Model] | models.Model) -> str:
    """The label the triggers log a model's rows under: its concrete model's.

    The triggers sit on the table, so a proxy's rows are logged as the concrete model's;
    every lookup by model goes through this so that a proxy finds its history.
    """
    return concrete_model_of(model)._meta.label


def on_tenant_shard(tenant_key: object) -> RawSQL:
    """In Citus mode: the log's entries on ``tenant_key``'s shard (the log's distribution
    column, ``shard_tenant``, which its model does not declare: its type is the tenant
    key's, set when the log is distributed by ``prodpatterns_private.distribute_log()``)."""
    return RawSQL(
        f'{connection.ops.quote_name(AuditLog._meta.db_table)}."shard_tenant" = %s',
        (tenant_key,),
        output_field=models.BooleanField(),
    )


class AuditLogQuerySet(models.QuerySet):
    def for_object(self, obj: models.Model) -> AuditLogQuerySet:
        """Entries of one row, newest first (a proxy instance finds its table's entries).

        In Citus mode a tenant row's entries are on its tenant's shard of the log: the
        query names that shard's key, so Citus sends it to that shard alone.
        """
        entries = self.filter(model=audit_label(obj), object_pk=str(obj.pk))
        if app_settings.citus and is_tenant_scoped(obj):
            entries = entries.filter(on_tenant_shard(getattr(obj, f"{TENANT_FIELD}_id")))
        return entries.order_by("-id")

    def for_actor(self, user: object) -> AuditLogQuerySet:
        return self.filter(actor_id=str(getattr(user, "pk", user))).order_by("-id")

    def for_request(self, request_id: str) -> AuditLogQuerySet:
        return self.filter(request_id=request_id).order_by("id")


class AuditLog(models.Model):
    """One entry per changed row, written by triggers in the same transaction as the change.

    Append-only: the database refuses UPDATE, DELETE and TRUNCATE from every role but the
    table's owner (``prune_audit`` runs through the owner alias). Row level security shows a
    tenant its own entries only.
    """

    timestamp = models.DateTimeField(_("timestamp"))
    model = models.CharField(_("model"), max_length=200)
    object_pk = models.CharField(_("object pk"), max_length=255)
    action = models.CharField(_("action"), max_length=20, choices=ACTIONS)
    changes = models.JSONField(_("changes"), null=True, blank=True)
    snapshot = models.JSONField(_("snapshot"), null=True, blank=True)
    actor_id = models.CharField(_("actor"), max_length=255, null=True, blank=True)
    actor_repr = models.CharField(_("actor (as shown then)"), max_length=255, null=True, blank=True)
    tenant_id = models.CharField(_("tenant"), max_length=255, null=True, blank=True)
    request_id = models.CharField(_("request id"), max_length=255, null=True, blank=True)
    ip_address = models.CharField(_("IP address"), max_length=45, null=True, blank=True)
    user_agent = models.TextField(_("user agent"), null=True, blank=True)
    path = models.TextField(_("path"), null=True, blank=True)
    reason = models.TextField(_("reason"), null=True, blank=True)
    extra = models.JSONField(_("extra"), null=True, blank=True)

    objects = AuditLogQuerySet.as_manager()

    class Meta:
        verbose_name = _("audit log entry")
        verbose_name_plural = _("audit log")
        indexes = [
            models.Index(fields=["model", "object_pk", "-id"], name="prodpatterns_audit_object"),
            models.Index(fields=["actor_id", "-id"], name="prodpatterns_audit_actor"),
            models.Index(fields=["tenant_id", "-timestamp"], name="prodpatterns_audit_tenant"),
            models.Index(fields=["request_id"], name="prodpatterns_audit_request"),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.model} {self.object_pk}"

    @property
    def actor(self) -> AbstractBaseUser | None:
        """The acting user, or None (unknown, or deleted since: see ``actor_repr``)."""
        from django.contrib.auth import get_user_model

        if not self.actor_id:
            return None
        try:
            return get_user_model()._base_manager.filter(pk=self.actor_id).first()
        except (ValueError, TypeError):
            return None

    def model_class(self) -> type[models.Model] | None:
        from django.apps import apps

        try:
            return apps.get_model(self.model)
        except LookupError:
            return None

    def field_values(self) -> dict[str, Any]:
        """The snapshot as ``{attname: python value}``, skipping redacted columns and
        columns the model no longer has; empty for an entry of a model that is gone (the
        raw ``snapshot`` keeps what was logged)."""
        model = self.model_class()
        if model is None:
            return {}
        # A generated column is computed by the database and cannot be written back.
        columns = {
            f.column: f for f in model._meta.concrete_fields if not getattr(f, "generated", False)
        }
        values = {}
        for column, value in (self.snapshot or {}).items():
            field = columns.get(column)
            if field is None or value == "[redacted]":
                continue
            values[field.attname] = field.to_python(value) if value is not None else None
        return values

    def revert(self, using: str | None = None, expected_version: int | None = None) -> models.Model:
        """Put the row back to this entry's snapshot; the revert is itself audited.

        The primary key and columns redacted from the log stay as they are. On a versioned
        model the revert is a version-checked write that bumps the version (the snapshot's
        version is history, never written back): ``expected_version``, the version the
        person who chose the revert saw, must still be current, or ConflictError.
        """
        model = self.model_class()
        if model is None or not self.snapshot:
            raise ValueError(f"Audit entry {self.pk} has no snapshot of a known model.")
        values = self.field_values()
        pk_name = model._meta.pk.attname
        versioned = is_versioned(model)
        with (
            audit_context(reason=f"revert to audit entry {self.pk}"),
            transaction.atomic(using=using),
        ):
            rows = rows_of(model, using, [self.object_pk], [self.tenant_id])
            obj = rows.select_for_update().first()
            if obj is None:
                obj = model(**values)
                models.Model.save_base(obj, using=using, force_insert=True)
                return obj
            current = cast("VersionedModel", obj).version if versioned else None
            if versioned and expected_version is not None and current != expected_version:
                raise ConflictError(model, obj.pk, expected_version, current)
            changes = {
                name: value
                for name, value in values.items()
                if name not in (pk_name, *BOOKKEEPING) and getattr(obj, name) != value
            }
            if changes:
                if versioned:
                    changes[VERSION] = models.F(VERSION) + 1
                if has_updated_at(model):
                    changes[UPDATED_AT] = timezone.now()
                rows.filter(pk=obj.pk).update(**changes)
                obj.refresh_from_db(using=using)
            return obj


class AuditedModel(models.Model):
    """Every change to rows of this model leaves an ``AuditLog`` entry, whatever made it.

    ``audit_redact = ("field", ...)`` on the class names fields whose values the log never
    stores (``PRODPATTERNS["AUDIT_REDACT_FIELDS"]`` adds to it for every model).
    """

    audit_redact: tuple[str, ...] = ()
    prodpatterns_audited = True  # markers.AUDITED_MARKER

    class Meta:
        abstract = True

    def audit_history(self) -> AuditLogQuerySet:
        return AuditLog.objects.for_object(self)
