"""Which models get which generated DDL: the one place that decides.

When a model class is prepared, the handlers below add the app's constraints to its
``Meta.constraints`` (and to ``original_attrs``, which migrations read), so that
``makemigrations`` writes them into the user's migrations like any constraint of their
own:

============================  ==============================================================
A concrete tenant model       ``RowLevelSecurity`` (its policy) and a unique
                              ``(tenant, pk)`` key other tenant models point at
a reference between tenant    ``TenantForeignKey``: the reference goes over
models                        ``(tenant, key)``; a ``to_field`` target gets its own
                              unique ``(tenant, to_field)`` key
a many-to-many link table     ``ThroughRowLevelSecurity`` when a tenant model is at either
without a tenant column       end (a link shows only when both ends do)
a concrete audited model      ``AuditTriggers`` (capture triggers with its redacted and
                              ignored columns); in Citus mode a tenant model's are
                              ``CitusAuditTriggers`` (row level, on the shards)
a link between audited        ``ThroughAuditTriggers`` on Django's auto-created link table
models
============================  ==============================================================

What each constraint's SQL is lives with it (:mod:`.constraints`, :mod:`.audit` and the
versioned files under ``sql/``). Models that get nothing: abstract, proxy and swapped-out
models, multi-table inheritance children (``prodpatterns.E003`` refuses them), unmanaged
models (``prodpatterns.W003``), and the historical models migrations build, whose
constraints come from the migration state.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import cast

from django.db import models
from django.db.backends.utils import truncate_name
from django.db.models.fields.related import lazy_related_operation
from django.db.models.signals import class_prepared

from ..conf import DEFAULT_TENANT_MODEL, app_settings
from ..markers import (
    AUDIT_IGNORED_FIELDS,
    AUDITED_MARKER,
    TENANT_FIELD,
    TENANT_SCOPED_ATTRIBUTE,
    is_audited,
    is_tenant_scoped,
)
from .audit import AuditTriggers, CitusAuditTriggers, ThroughAuditTriggers
from .citus import (
    CitusRowLevelSecurity,
    CitusTenantForeignKey,
    DistributedTable,
    ReferenceTable,
    join_within_tenant,
)
from .constraints import RowLevelSecurity, TenantForeignKey, ThroughRowLevelSecurity

__all__ = [
    "constraint_name",
    "gets_generated_ddl",
    "has_database_constraint",
    "is_tenant_model",
]


def constraint_name(model: type[models.Model], suffix: str) -> str:
    """The name of one of the app's constraints on ``model``: app, model and what it is."""
    return truncate_name(f"{model._meta.app_label}_{model._meta.model_name}_{suffix}", 63)


def gets_generated_ddl(model: type[models.Model], marker: str) -> bool:
    """True for a concrete, unswapped, managed model class that sets ``marker`` and is not a
    historical model built by migrations (module ``__fake__``, whose constraints come from
    the migration state).

    Multi-table inheritance and ``managed = False`` get nothing: the first is refused by
    ``prodpatterns.E003`` (the pattern's columns would live in two tables), and for the
    second migrations run no DDL at all, which ``prodpatterns.W003`` says.
    """
    return bool(getattr(model, marker, False)) and _has_own_table(model)


def _has_own_table(model: type[models.Model]) -> bool:
    """A concrete, unswapped, managed model class with a table of its own, not a
    historical model built by migrations."""
    opts = model._meta
    return (
        not (opts.abstract or opts.proxy or opts.swapped or opts.parents)
        and opts.managed
        and model.__module__ != "__fake__"
    )


def is_tenant_model(model: object) -> bool:
    """True for a model class (not abstract) built on ``TenantModel``."""
    return (
        isinstance(model, type)
        and issubclass(model, models.Model)
        and is_tenant_scoped(model)
        and not model._meta.abstract
    )


# Attribute on a foreign key between tenant models in Citus mode: its single-column
# database constraint was switched off here (db_constraint=False), the composite one stands.
COMPOSITE_ONLY = "_prodpatterns_composite_only"


def has_database_constraint(field: models.Field) -> bool:
    """True for a ``ForeignKey`` (or ``OneToOneField``) that keeps its database constraint.

    A ``ForeignObject`` that is not a ``ForeignKey`` never has one (Django creates no
    constraint for it), and ``db_constraint=False`` is the user's choice of none (in Citus
    mode, between tenant models, the app's: the composite key is the constraint).
    """
    if not isinstance(field, models.ForeignKey):
        return False
    # django-stubs lacks ForeignKey.db_constraint
    return bool(field.db_constraint or getattr(field, COMPOSITE_ONLY, False))  # type: ignore[attr-defined]


def _add(model: type[models.Model], constraint: models.BaseConstraint) -> None:
    if any(c.name == constraint.name for c in model._meta.constraints):
        return
    constraints = [*model._meta.constraints, constraint]
    model._meta.constraints = constraints
    model._meta.original_attrs["constraints"] = constraints  # what migrations read


def _when_links_resolve(
    model: type[models.Model],
    handler: Callable[..., None],
) -> None:
    """Call ``handler(model, target, through, field=...)`` for each many-to-many field
    declared on ``model``, once its target and link table are resolved (either may be
    named by a string and defined later)."""
    for field in model._meta.local_many_to_many:
        rel = field.remote_field
        assert rel.through is not None  # set (auto-created if need be) before class_prepared
        lazy_related_operation(partial(handler, field=field), model, rel.model, rel.through)


# --- tenant models ----------------------------------------------------------------------


def add_tenant_constraints(sender: type[models.Model], **kwargs: object) -> None:
    """class_prepared: a concrete tenant model gets its policy and its (tenant, pk) key; each
    of its references to another tenant model goes over (tenant, key) once resolved."""
    opts = sender._meta
    if _is_swapped_in_tenant_model(sender) and app_settings.while_models_load("CITUS"):
        _add(sender, ReferenceTable.current(name=constraint_name(sender, "citus")))
    if not gets_generated_ddl(sender, TENANT_SCOPED_ATTRIBUTE):
        return
    citus = app_settings.while_models_load("CITUS")
    policy = CitusRowLevelSecurity if citus else RowLevelSecurity
    _add(sender, policy.current(name=constraint_name(sender, "tenant_rls"), field=TENANT_FIELD))
    if citus:
        layout = DistributedTable.current(name=constraint_name(sender, "citus"), field=TENANT_FIELD)
        _add(sender, layout)
    _add(
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
            lazy_related_operation(partial(_tenant_key, field=field), sender, remote.model)


def _is_swapped_in_tenant_model(model: type[models.Model]) -> bool:
    """The project's own tenant model (the app's default one is laid out by the app's
    migrations, never by a migration makemigrations would write into the app)."""
    label = app_settings.tenant_model
    return (
        label != DEFAULT_TENANT_MODEL
        and model._meta.label_lower == label.lower()
        and _has_own_table(model)
    )


def _tenant_key(model: type[models.Model], target: type[models.Model], field: models.Field) -> None:
    """A reference between tenant models goes over (tenant, key) in the database.

    Only a reference with a database constraint gets one (``prodpatterns.W023`` says what
    ``db_constraint=False`` costs). A ``to_field`` reference needs a unique
    (tenant, to_field) key on the target to point at, which is added there. In Citus mode
    Django's single-column key is never made (``db_constraint=False``, written into the
    migrations): Citus refuses it between distributed tables.
    """
    citus = app_settings.while_models_load("CITUS")
    if citus and is_tenant_scoped(target):
        join_within_tenant(cast(models.ForeignKey, field))
    if not gets_generated_ddl(target, TENANT_SCOPED_ATTRIBUTE) or not (
        has_database_constraint(field)
    ):
        return  # no (tenant, key) to point at on an unmanaged or multi-table target
    if citus:
        setattr(field, COMPOSITE_ONLY, True)
        field.db_constraint = False  # type: ignore[attr-defined]  # not in django-stubs
    target_field = field.target_field  # type: ignore[attr-defined]  # a ForeignKey has it
    if not target_field.primary_key:
        _add(
            target,
            models.UniqueConstraint(
                fields=[TENANT_FIELD, target_field.name],
                name=constraint_name(target, f"tenant_{target_field.name}_key"),
            ),
        )
    _add(
        model,
        (CitusTenantForeignKey if citus else TenantForeignKey).current(
            name=constraint_name(model, f"{field.name}_tenant_fk"),
            field=field.name,
            tenant_field=TENANT_FIELD,
        ),
    )


def add_link_policies(sender: type[models.Model], **kwargs: object) -> None:
    """class_prepared: many-to-many link tables that touch a tenant model get a policy,
    whether the model declaring the field is a tenant model or a plain one."""
    opts = sender._meta
    if opts.abstract or opts.proxy or opts.swapped or not opts.managed:
        return
    if sender.__module__ == "__fake__":
        return
    _when_links_resolve(sender, _tenant_link)


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
        _add(
            model,
            ThroughRowLevelSecurity.current(
                name=constraint_name(model, f"{field.name}_rls"), field=field.name
            ),
        )


# --- audited models ---------------------------------------------------------------------


def add_audit_triggers(sender: type[models.Model], **kwargs: object) -> None:
    """class_prepared: a concrete audited model gets its capture triggers, with the
    columns whose values are never stored and those whose change alone is no change."""
    opts = sender._meta
    if not gets_generated_ddl(sender, AUDITED_MARKER):
        return
    names = set(getattr(sender, "audit_redact", ()))
    names |= set(app_settings.while_models_load("AUDIT_REDACT_FIELDS"))
    fields = {f.name: f for f in opts.concrete_fields}
    names |= _derived_from(names, fields)
    columns = {name: str(f.column) for name, f in fields.items()}  # concrete: each has one
    tenant_scoped = is_tenant_scoped(sender)
    # In Citus mode a tenant table is distributed: captured row by row on its shards.
    citus = tenant_scoped and app_settings.while_models_load("CITUS")
    _add(
        sender,
        (CitusAuditTriggers if citus else AuditTriggers).current(
            name=constraint_name(sender, "audit"),
            label=opts.label,
            pk=opts.pk.column,
            tenant=columns[TENANT_FIELD] if tenant_scoped else "",
            redact=sorted(columns[n] for n in names if n in fields),
            ignore=sorted(columns[n] for n in AUDIT_IGNORED_FIELDS if n in fields),
        ),
    )


def _derived_from(redacted: set[str], fields: dict[str, models.Field]) -> set[str]:
    """Generated fields whose expression reads a redacted field: stored in clear, they
    would give the value away (PostgreSQL lets a generated column read plain columns only)."""
    return {
        name
        for name, field in fields.items()
        if isinstance(field, models.GeneratedField)
        and redacted
        & {
            # django-stubs has neither GeneratedField.expression nor F.name
            node.name.split("__")[0]  # type: ignore[attr-defined]
            for node in field.expression.flatten()  # type: ignore[attr-defined]
            if isinstance(node, models.F)
        }
    }


def add_link_audit(sender: type[models.Model], **kwargs: object) -> None:
    """class_prepared: links between audited models are audited too (add and remove).

    Once the target and the link table are resolved (either may be named by a string and
    defined later); a link table that is a model of its own is audited as that model.
    """
    if not gets_generated_ddl(sender, AUDITED_MARKER):
        return
    _when_links_resolve(sender, _audit_link)


def _audit_link(
    model: type[models.Model],
    target: type[models.Model],
    through: type[models.Model],
    field: models.ManyToManyField,
) -> None:
    if not (through._meta.auto_created and is_audited(target)):
        return
    _add(
        model,
        ThroughAuditTriggers.current(
            name=constraint_name(model, f"{field.name}_audit"),
            field=field.name,
            label=through._meta.label,
            pk=through._meta.pk.column,
            tenant="",
            redact=[],
            ignore=[],
        ),
    )


class_prepared.connect(add_tenant_constraints, dispatch_uid="prodpatterns.tenant_constraints")
class_prepared.connect(add_link_policies, dispatch_uid="prodpatterns.link_policies")
class_prepared.connect(add_audit_triggers, dispatch_uid="prodpatterns.audit_triggers")
class_prepared.connect(add_link_audit, dispatch_uid="prodpatterns.link_audit")
