"""Checks on soft-delete models: E010, W010-W012."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from django.apps import AppConfig
from django.conf import settings
from django.core.checks import Error, Warning, register
from django.db import models

from ..conf import SETTINGS_NAME, validate
from ..markers import DELETED_AT, SOFT_DELETE_MARKER, TENANT_FIELD, is_tenant_scoped
from ..relations import child_edges, is_soft_deletable
from .inventory import installed_models


def _mentions_alive(condition: object) -> bool:
    """True when a Q object requires ``deleted_at IS NULL`` somewhere in it."""
    for child in getattr(condition, "children", ()):
        if isinstance(child, tuple) and child == (f"{DELETED_AT}__isnull", True):
            return True
        if _mentions_alive(child):
            return True
    return False


def _soft_delete_models(app_configs: Sequence[AppConfig] | None) -> list[type[models.Model]]:
    return installed_models(app_configs, SOFT_DELETE_MARKER)


@register()
def check_soft_delete_cascades(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[Error]:
    """E010: every CASCADE into a model that cannot be soft-deleted is a declared choice."""
    user_settings = getattr(settings, SETTINGS_NAME, {})
    if validate(user_settings):
        return []  # E002 says what is wrong first
    declared = user_settings.get("SOFT_DELETE_PLAIN_CHILDREN", {})
    messages = []
    for model in _soft_delete_models(app_configs):
        for edge in child_edges(model):
            if edge.on_delete is not models.CASCADE or is_soft_deletable(edge.child):
                continue
            label = edge.child._meta.label
            if label in declared:
                continue
            messages.append(
                Error(
                    f"Soft-deleting {model._meta.label} would CASCADE through {edge.name} into "
                    f"{label}, which cannot be soft-deleted.",
                    hint=f'Declare the choice: PRODPATTERNS["SOFT_DELETE_PLAIN_CHILDREN"]'
                    f'["{label}"] = "hard" (delete those rows for real), "keep" (leave '
                    'them) or "error" (refuse); or make the model soft-deletable.',
                    obj=model,
                    id="prodpatterns.E010",
                )
            )
    return messages


@register()
def check_soft_delete_uniqueness(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[Warning]:
    """W010-W012: uniqueness that counts deleted rows."""
    messages = []
    fix = (
        "Use django_prodpatterns.models.alive_unique(...) in Meta.constraints, which only "
        f"counts rows with {DELETED_AT} IS NULL."
    )
    for model in _soft_delete_models(app_configs):
        opts = model._meta
        # On a tenant model a unique set without the tenant is W020's, whose hint fixes
        # both at once (alive_unique("tenant", ...)); two warnings would point two ways.
        tenant = is_tenant_scoped(model)
        for field in opts.local_concrete_fields:
            if field.primary_key or not field.unique:
                continue
            if tenant and not field.one_to_one:
                continue
            if field.one_to_one:
                one_to_one = cast(models.OneToOneField, field)  # concrete: a OneToOneField
                if one_to_one.remote_field.parent_link:
                    continue
                messages.append(
                    Warning(
                        f"{opts.label}.{field.name} is a OneToOneField, so it is unique across "
                        "deleted rows too: a soft-deleted row blocks a new one for the same "
                        f"{one_to_one.related_model._meta.object_name}.",
                        hint="If rows are re-created after a soft delete, use a ForeignKey "
                        "with alive_unique(...); otherwise silence prodpatterns.W011.",
                        obj=field,
                        id="prodpatterns.W011",
                    )
                )
            else:
                messages.append(
                    Warning(
                        f"{opts.label}.{field.name} has unique=True: a soft-deleted row keeps "
                        "its value taken.",
                        hint=fix,
                        obj=field,
                        id="prodpatterns.W010",
                    )
                )
        # A set that includes the primary key or another unique field is unique anyway (the
        # generated (tenant, pk) and (tenant, to_field) keys are such sets).
        unique_anyway = {f.name for f in opts.concrete_fields if f.unique}
        plain_unique = [
            ", ".join(fields)
            for fields in opts.unique_together
            if not unique_anyway & set(fields) and not (tenant and TENANT_FIELD not in fields)
        ] + [
            c.name
            for c in opts.constraints
            if isinstance(c, models.UniqueConstraint)
            and not _mentions_alive(c.condition)
            and not unique_anyway & set(c.fields)
            and not (tenant and TENANT_FIELD not in c.fields)
        ]
        for name in plain_unique:
            messages.append(
                Warning(
                    f"{opts.label} has a unique constraint ({name}) that counts soft-deleted rows.",
                    hint=fix,
                    obj=model,
                    id="prodpatterns.W012",
                )
            )
    return messages
