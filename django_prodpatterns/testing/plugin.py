"""The pytest plugin ``prodpatterns`` (entry point ``pytest11``).

- ``tenant_pair``: two tenants of the tenant model, made on the application role's alias
  (the ini option ``prodpatterns_app_alias``; unset, ``default`` when
  ``PRODPATTERNS["OWNER_DATABASE"]`` names another alias, as in production settings, else
  ``app``).
- With pytest-django, the test databases are made and migrated by the owner role and the
  application role gets its privileges in them (:mod:`.databases`): a project's settings
  as the docs give them work for its tests as they are, no fixture to write.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS, DatabaseError, models, transaction

try:  # the plugin's fixtures exist only where pytest does
    import pytest
except ImportError:  # pragma: no cover
    pytest = None  # type: ignore[assignment]  # no pytest, no fixtures (checked below)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "prodpatterns_app_alias",
        "database alias of the application role, for tenant_pair (default: guessed)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Register the test-database fixtures after every plugin installed by entry point, so
    that they wrap pytest-django's fixtures of the same names (the last one registered is
    the one used; it asks for the earlier one by name)."""
    if config.pluginmanager.hasplugin("django") and not config.pluginmanager.has_plugin(
        _REGISTERED_AS
    ):
        from . import db_fixtures

        config.pluginmanager.register(db_fixtures, _REGISTERED_AS)


_REGISTERED_AS = "prodpatterns-test-databases"


def app_alias(config: pytest.Config) -> str:
    """The application role's alias: the ini option, else guessed from the settings."""
    from ..conf import app_settings

    configured = config.getini("prodpatterns_app_alias")
    if configured:
        return configured
    owner = app_settings.OWNER_DATABASE
    return DEFAULT_DB_ALIAS if owner and owner != DEFAULT_DB_ALIAS else "app"


def _tenant_pair(request: pytest.FixtureRequest) -> Iterator[tuple[models.Model, models.Model]]:
    from ..models.tenancy import get_tenant_model

    alias = app_alias(request.config)
    manager = get_tenant_model()._base_manager.using(alias)
    suffix = uuid.uuid4().hex[:8]
    pair = (
        manager.create(name=f"tenant A {suffix}", slug=f"a-{suffix}"),
        manager.create(name=f"tenant B {suffix}", slug=f"b-{suffix}"),
    )
    yield pair
    # Rows the test left in the two tenants keep them (the tenant key PROTECTs); the test
    # database's own clean-up (rollback or flush) removes both, so only try.
    try:
        with transaction.atomic(using=alias):
            manager.filter(pk__in=[t.pk for t in pair]).delete()
    except DatabaseError:
        pass


if pytest is not None:
    tenant_pair = pytest.fixture(_tenant_pair, name="tenant_pair")
