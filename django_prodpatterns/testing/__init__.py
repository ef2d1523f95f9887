"""Testing a project that uses the app.

- The leak kit, :func:`assert_tenant_isolation` and :func:`assert_link_isolation`
  (:mod:`.leaks`).
- Test databases made and migrated by the owner role, with the application role's
  privileges granted (:mod:`.databases`): automatic under pytest-django through the pytest
  plugin, and for ``manage.py test`` with ``TEST_RUNNER =
  "django_prodpatterns.testing.DiscoverRunner"``.
- The pytest plugin ``prodpatterns`` (entry point ``pytest11``) is this package: its hooks
  and the ``tenant_pair`` fixture come from :mod:`.plugin`.
"""

from contextlib import suppress

from .leaks import assert_link_isolation, assert_tenant_isolation
from .plugin import pytest_addoption, pytest_configure

with suppress(ImportError):  # a fixture, found by pytest by name; only where pytest is
    from .plugin import tenant_pair  # noqa: F401


def __getattr__(name: str) -> object:
    """``DiscoverRunner`` imports Django's test runner: only when asked for."""
    if name == "DiscoverRunner":
        from .runner import DiscoverRunner

        return DiscoverRunner
    raise AttributeError(name)


__all__ = [
    "DiscoverRunner",
    "assert_link_isolation",
    "assert_tenant_isolation",
    "pytest_addoption",
    "pytest_configure",
]
