"""Checks on model shapes the patterns do not cover: E003, W003."""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.core.checks import CheckMessage, Error, Warning, register
from django.db import models

from ..markers import AUDITED_MARKER, SOFT_DELETE_MARKER, TENANT_SCOPED_ATTRIBUTE
from .inventory import installed_models

PATTERNS = {
    TENANT_SCOPED_ATTRIBUTE: "TenantModel",
    AUDITED_MARKER: "AuditedModel",
    SOFT_DELETE_MARKER: "SoftDeleteModel",
}


def _pattern_models(
    app_configs: Sequence[AppConfig] | None,
) -> dict[type[models.Model], list[str]]:
    """Each installed model that carries a pattern with database DDL, and those bases."""
    found: dict[type[models.Model], list[str]] = {}
    for marker, base in PATTERNS.items():
        for model in installed_models(app_configs, marker):
            found.setdefault(model, []).append(base)
    return found


@register()
def check_model_shapes(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[CheckMessage]:
    """E003: multi-table inheritance; W003: ``managed = False``.

    Multi-table inheritance splits a row over two tables: the tenant column, the audit
    triggers or ``deleted_at`` would guard one of them and leave the other open (a parent
    table without row level security shows every tenant's rows), so it is refused rather
    than half-enforced. An unmanaged model gets no generated DDL, because migrations run
    none for it.
    """
    messages: list[CheckMessage] = []
    for model, bases in _pattern_models(app_configs).items():
        opts = model._meta
        names = " and ".join(bases)
        if opts.parents:
            parents = ", ".join(parent._meta.label for parent in opts.parents)
            messages.append(
                Error(
                    f"{opts.label} uses multi-table inheritance (from {parents}) with "
                    f"{names}: the pattern would guard one of the row's tables and not the "
                    "other.",
                    hint=f"Make {parents} abstract (class Meta: abstract = True), or link the "
                    "two models with a OneToOneField(primary_key=True) of your own.",
                    obj=model,
                    id="prodpatterns.E003",
                )
            )
        if not opts.managed:
            messages.append(
                Warning(
                    f"{opts.label} is managed = False, so migrations create none of the "
                    f"database objects {names} needs (row level security policies, audit "
                    "triggers, tenant keys).",
                    hint="Create them with the table yourself (make the model managed in a "
                    "scratch project and copy what sqlmigrate prints), or make it managed.",
                    obj=model,
                    id="prodpatterns.W003",
                )
            )
    return messages
