"""Which installed models the checks look at (shared by every check module)."""

from __future__ import annotations

from collections.abc import Sequence

from django.apps import AppConfig, apps
from django.db import models

from ..markers import TENANT_SCOPED_ATTRIBUTE


def models_of(app_configs: Sequence[AppConfig] | None) -> list[type[models.Model]]:
    """The models of ``app_configs`` (all installed models when None)."""
    if app_configs is None:
        return list(apps.get_models())
    return [m for config in app_configs for m in config.get_models()]


def installed_models(
    app_configs: Sequence[AppConfig] | None, marker: str
) -> list[type[models.Model]]:
    """Concrete, non-proxy models (of ``app_configs``, or all) whose class sets ``marker``."""
    return [m for m in models_of(app_configs) if getattr(m, marker, False) and not m._meta.proxy]


def tenant_models(app_configs: Sequence[AppConfig] | None = None) -> list[type[models.Model]]:
    """The installed tenant models (of ``app_configs``, or all)."""
    return installed_models(app_configs, TENANT_SCOPED_ATTRIBUTE)
