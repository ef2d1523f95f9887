"""Checks that a pattern model's managers show the rows they promise: W013, W022."""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig
from django.core.checks import Warning, register
from django.db import models

from ..exceptions import TenantRequired
from ..markers import DELETED_AT, SOFT_DELETE_MARKER, TENANT_SCOPED_ATTRIBUTE
from ..querysets import PatternManager
from .inventory import installed_models

# Which soft-delete rows each conventional manager name shows.
EXPECTED_ROWS = {"all_objects": "all", "deleted_objects": "deleted"}
COMPOSE_HINT = (
    "Let the pattern bases provide the managers, or build yours with "
    "PatternManager.from_queryset(YourQuerySet)(), where YourQuerySet subclasses "
    "PatternQuerySet."
)


def _shows_alive_only(manager: models.Manager[models.Model]) -> bool:
    if isinstance(manager, PatternManager):
        return manager.rows == "alive"
    try:
        return f'{DELETED_AT}" IS NULL' in str(manager.all().query)
    except TenantRequired:
        return True  # the user's own tenant-scoped manager: W022 speaks about it


def _soft_delete_messages(model: type[models.Model]) -> list[Warning]:
    opts = model._meta
    wrong = []
    if not _shows_alive_only(model._default_manager):
        wrong.append((model._default_manager.name, "alive"))
    for manager in opts.managers:
        expected = EXPECTED_ROWS.get(manager.name)
        if expected and isinstance(manager, PatternManager) and manager.rows != expected:
            wrong.append((manager.name, expected))
    return [
        Warning(
            f"The manager {name} of {opts.label} does not show {rows} rows, so the code, "
            "admin and forms that use it see the wrong rows.",
            hint=COMPOSE_HINT,
            obj=model,
            id="prodpatterns.W013",
        )
        for name, rows in wrong
    ]


def _tenant_messages(model: type[models.Model]) -> list[Warning]:
    return [
        Warning(
            f"The manager {manager.name} of {model._meta.label} is not scoped to the current "
            "tenant: only row level security stands between it and other tenants' rows, and "
            "not at all on the cross-tenant alias.",
            hint=COMPOSE_HINT,
            obj=model,
            id="prodpatterns.W022",
        )
        for manager in model._meta.managers
        if not isinstance(manager, PatternManager)
    ]


@register()
def check_pattern_managers(
    app_configs: Sequence[AppConfig] | None = None, **kwargs: object
) -> list[Warning]:
    """W013 and W022, on every concrete soft-delete or tenant model."""
    messages: list[Warning] = []
    for model in installed_models(app_configs, SOFT_DELETE_MARKER):
        messages += _soft_delete_messages(model)
    for model in installed_models(app_configs, TENANT_SCOPED_ATTRIBUTE):
        messages += _tenant_messages(model)
    return messages
