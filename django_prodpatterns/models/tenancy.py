"""Tenant isolation: the tenant model and TenantModel.

Two layers enforce the same rule. The ORM scopes ``objects`` to the current tenant and
raises :class:`~django_prodpatterns.exceptions.TenantRequired` without one; PostgreSQL row
level security (policies created by migrations; :mod:`django_prodpatterns.db.generated`
decides which models get them) enforces it for every statement, ORM or raw, for the
application role.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Self

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.utils.translation import gettext_lazy as _

from ..conf import TENANT_MODEL_SETTING, app_settings
from ..context import TenantKey, require_tenant_pk
from ..exceptions import TenantMismatch
from ..markers import TENANT_FIELD, alters_data
from ..querysets import PatternManager
from .timestamps import TimestampedModel


class Tenant(TimestampedModel):
    """The default tenant model; swap it with ``PRODPATTERNS_TENANT_MODEL``."""

    name = models.CharField(_("name"), max_length=200)
    slug = models.SlugField(_("slug"), unique=True)

    class Meta:
        # Swappable only when the project names a tenant model. Django writes a swappable
        # target into migrations as ``settings.PRODPATTERNS_TENANT_MODEL``, which a project
        # that keeps the default (and so never defines the setting) could not load; unset,
        # a reference to this model is written as the plain "prodpatterns.tenant".
        if hasattr(settings, TENANT_MODEL_SETTING):
            swappable = TENANT_MODEL_SETTING
        verbose_name = _("tenant")
        verbose_name_plural = _("tenants")

    def __str__(self) -> str:
        return self.name


def get_tenant_model() -> type[models.Model]:
    """The active tenant model (like ``django.contrib.auth.get_user_model()``)."""
    try:
        return apps.get_model(app_settings.tenant_model, require_ready=False)
    except (LookupError, ValueError) as exc:
        raise ImproperlyConfigured(
            f"{TENANT_MODEL_SETTING} refers to {app_settings.tenant_model!r}, which is not an "
            "installed model."
        ) from exc


class TenantField(models.ForeignKey):
    """The ``tenant`` foreign key: a ForeignKey that migrations never write as swappable.

    A swappable reference would make every migration read ``PRODPATTERNS_TENANT_MODEL`` from
    settings, which projects that keep the default tenant model do not define.
    """

    prodpatterns_tenant_field = True  # markers.TENANT_FIELD_MARKER

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["swappable"] = False
        super().__init__(*args, **kwargs)


class TenantModel(models.Model):
    """A row that belongs to one tenant, isolated by the ORM and by row level security.

    - ``tenant`` is filled from the current context on create and can never change.
    - ``objects`` shows the current tenant's rows and raises ``TenantRequired`` without a
      current tenant; ``objects.cross_tenant()`` works only on the cross-tenant alias.
    - Migrations give the table ENABLE + FORCE row level security with a fail-closed policy,
      a unique (tenant, pk) key, and foreign keys to other tenant models over (tenant, key),
      so a row can never reference another tenant's row.
    """

    tenant = TenantField(
        app_settings.tenant_model,
        on_delete=models.PROTECT,
        editable=False,
        related_name="+",
        verbose_name=_("tenant"),
    )

    objects = PatternManager()

    prodpatterns_tenant_scoped = True  # markers.TENANT_SCOPED_ATTRIBUTE

    # The tenant model is swappable, so its key's type is known only at run time.
    tenant_id: TenantKey | None
    # The tenant this instance was loaded or last saved with (None: not from the database).
    _loaded_tenant_id: TenantKey | None

    class Meta:
        abstract = True

    @alters_data
    def save(self, *args: Any, **kwargs: Any) -> None:
        if self._state.adding:
            self._fill_tenant()
        elif str(self.tenant_id) != str(getattr(self, "_loaded_tenant_id", self.tenant_id)):
            raise TenantMismatch(f"{self._meta.label}: a row's tenant cannot change.")
        super().save(*args, **kwargs)
        self._loaded_tenant_id = self.tenant_id

    def _do_update(
        self,
        base_qs: models.QuerySet[Self],
        using: str | None,
        pk_val: Any,
        values: Collection[tuple[models.Field, type[models.Model] | None, Any]],
        *args: Any,  # update_fields, forced_update (and returning_fields, Django 6.0+)
        **kwargs: Any,
    ) -> Any:  # True/False on Django 5.2, the returned rows on 6.0+
        """In Citus mode the UPDATE of a save names the row's tenant, which routes it to
        the tenant's shard, and never sets the tenant column (Citus refuses to write a
        table's distribution column; the tenant cannot change anyway, see :meth:`save`)."""
        if app_settings.citus and self.tenant_id is not None:
            base_qs = base_qs.filter(**{f"{TENANT_FIELD}_id": self.tenant_id})
            values = [value for value in values if value[0].name != TENANT_FIELD]
        return super()._do_update(base_qs, using, pk_val, values, *args, **kwargs)

    @classmethod
    def from_db(
        cls,
        db: str | None,
        field_names: Collection[str],
        values: Collection[object],
        **kwargs: Any,  # fetch_mode, Django 6.1+
    ) -> Self:
        # **kwargs: Django 6.1 passes fetch_mode (and warns about overrides without it).
        instance = super().from_db(db, field_names, values, **kwargs)
        instance._loaded_tenant_id = instance.__dict__.get(f"{TENANT_FIELD}_id")
        return instance

    def _fill_tenant(self) -> None:
        current = require_tenant_pk(type(self))
        if self.tenant_id is None:
            self.tenant_id = current
        elif str(self.tenant_id) != str(current):
            raise TenantMismatch(
                f"{self._meta.label}: cannot write a row of tenant {self.tenant_id} while the "
                f"current tenant is {current}."
            )
