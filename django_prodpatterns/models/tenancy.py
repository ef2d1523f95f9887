"""Tenant isolation: the tenant model, TenantModel, and the DDL each tenant model gets.

Two layers enforce the same rule. The ORM scopes ``objects`` to the current tenant and
raises :class:`~django_prodpatterns.exceptions.TenantRequired` without one; PostgreSQL row
level security (policies created by migrations, see :mod:`django_prodpatterns.db.constraints`)
enforces it for every statement, ORM or raw, for the application role.
"""

from __future__ import annotations

from collections.abc import Collection
from functools import partial
from typing import Any, Self, cast

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.db.backends.utils import truncate_name
from django.db.models.fields.related import lazy_related_operation
from django.db.models.signals import class_prepared
from django.utils.translation import gettext_lazy as _

from ..conf import TENANT_MODEL_SETTING, app_settings
from ..context import TenantKey
from ..db.constraints import RowLevelSecurity, TenantForeignKey, ThroughRowLevelSecurity
from ..exceptions import TenantMismatch
from ..markers import TENANT_FIELD, TENANT_SCOPED_ATTRIBUTE, alters_data, is_tenant_scoped
from ..querysets import PatternManager, current_tenant_pk
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
        current = current_tenant_pk(type(self))
        if self.tenant_id is None:
            self.tenant_id = current
        elif str(self.tenant_id) != str(current):
            raise TenantMismatch(
                f"{self._meta.label}: cannot write a row of tenant {self.tenant_id} while the "
                f"current tenant is {current}."
            )


# --- the DDL every concrete tenant model gets -----------------------------------------------


def constraint_name(model: type[models.Model], suffix: str) -> str:
    return truncate_name(f"{model._meta.app_label}_{model._meta.model_name}_{suffix}", 63)


def gets_generated_ddl(model: type[models.Model], marker: str) -> bool:
    """True for a concrete, unswapped, managed model class that sets ``marker`` and is not a
    historical model built by migrations (module ``__fake__``, whose constraints come from
    the migration state).

    Multi-table inheritance and ``managed = False`` get nothing: the first is refused by
    ``prodpatterns.E003`` (the pattern's columns would live in two tables), and for the
    second migrations run no DDL at all, which ``prodpatterns.W003`` says.
    """
    opts = model._meta
    return (
        bool(getattr(model, marker, False))
        and not (opts.abstract or opts.proxy or opts.swapped or opts.parents)
        and opts.managed
        and model.__module__ != "__fake__"
    )


def _add_constraint(model: type[models.Model], constraint: models.BaseConstraint) -> None:
    if any(c.name == constraint.name for c in model._meta.constraints):
        return
    constraints = [*model._meta.constraints, constraint]
    model._meta.constraints = constraints
    model._meta.original_attrs["constraints"] = constraints  # what migrations read


def is_tenant_model(model: object) -> bool:
    return (
        isinstance(model, type)
        and issubclass(model, models.Model)
        and is_tenant_scoped(model)
        and not model._meta.abstract
    )


def _tenant_key(
    model: type[models.Model], target: type[models.Model], field: models.ForeignKey
) -> None:
    """A reference between tenant models goes over (tenant, key) in the database.

    ``db_constraint=False`` is the user's choice of no database constraint at all, and it
    holds (``prodpatterns.W023`` says what it costs). A ``to_field`` reference needs a
    unique (tenant, to_field) key on the target to point at, which is added there.
    """
    if not gets_generated_ddl(target, TENANT_SCOPED_ATTRIBUTE) or not (
        field.db_constraint  # type: ignore[attr-defined]  # django-stubs lacks the attribute
    ):
        return  # no (tenant, key) to point at on an unmanaged or multi-table target
    target_field = field.target_field
    if not target_field.primary_key:
        _add_constraint(
            target,
            models.UniqueConstraint(
                fields=[TENANT_FIELD, target_field.name],
                name=constraint_name(target, f"tenant_{target_field.name}_key"),
            ),
        )
    _add_constraint(
        model,
        TenantForeignKey.current(
            name=constraint_name(model, f"{field.name}_tenant_fk"),
            field=field.name,
            tenant_field=TENANT_FIELD,
        ),
    )


def _tenant_link(
    model: type[models.Model],
    target: type[models.Model],
    through: type[models.Model],
    field: models.ManyToManyField,
) -> None:
    """Row level security for a link table with a tenant model at either end and no tenant
    column of its own.

    Runs once both the target and the ``through`` model are resolved (either may be named
    by a string and defined later). A through model that is itself a tenant model has its
    own policy; any other one (Django's auto-created table, or a plain model of the user's)
    gets a policy that admits a link only when both ends are visible, so a link to another
    tenant's row (or its id) never shows, whichever end is the tenant model.
    """
    if (
        (is_tenant_model(model) or is_tenant_model(target))
        and not is_tenant_scoped(through)
        and through._meta.managed
    ):
        _add_constraint(
            model,
            ThroughRowLevelSecurity.current(
                name=constraint_name(model, f"{field.name}_rls"), field=field.name
            ),
        )


def add_tenant_constraints(sender: type[models.Model], **kwargs: object) -> None:
    """class_prepared: give a concrete tenant model its row level security and keys."""
    opts = sender._meta
    if not gets_generated_ddl(sender, TENANT_SCOPED_ATTRIBUTE):
        return
    _add_constraint(
        sender,
        RowLevelSecurity.current(name=constraint_name(sender, "tenant_rls"), field=TENANT_FIELD),
    )
    _add_constraint(
        sender,
        models.UniqueConstraint(
            fields=[TENANT_FIELD, opts.pk.name], name=constraint_name(sender, "tenant_key")
        ),
    )
    for field in opts.local_fields:
        if (
            field.is_relation
            and field.name != TENANT_FIELD
            and (field.many_to_one or field.one_to_one)
        ):
            remote = field.remote_field
            assert remote is not None  # a relation has one
            if getattr(remote, "parent_link", False):
                continue
            # TODO: a ForeignObject that is not a ForeignKey has no db_constraint, so
            # _tenant_key raises AttributeError for one that points at a tenant model.
            key = cast(models.ForeignKey, field)
            lazy_related_operation(partial(_tenant_key, field=key), sender, remote.model)


def add_link_policies(sender: type[models.Model], **kwargs: object) -> None:
    """class_prepared: many-to-many link tables that touch a tenant model get a policy,
    whether the model declaring the field is a tenant model or a plain one."""
    opts = sender._meta
    if opts.abstract or opts.proxy or opts.swapped or not opts.managed:
        return
    if sender.__module__ == "__fake__":
        return
    for field in opts.local_many_to_many:
        rel = field.remote_field
        assert rel.through is not None  # set (auto-created if need be) before class_prepared
        lazy_related_operation(partial(_tenant_link, field=field), sender, rel.model, rel.through)


class_prepared.connect(add_tenant_constraints, dispatch_uid="prodpatterns.tenant_constraints")
class_prepared.connect(add_link_policies, dispatch_uid="prodpatterns.link_policies")
