"""pytest-django's test-database fixtures, wrapped by :class:`~.databases.OwnerTestDatabases`.

Registered by the plugin's ``pytest_configure`` (after every plugin installed by entry
point), so each fixture here is the last of its name and receives pytest-django's own by
asking for it by name.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from .databases import OwnerTestDatabases

if TYPE_CHECKING:
    from pytest_django.plugin import DjangoDbBlocker


@pytest.fixture(scope="session", name="_prodpatterns_owner_databases")
def owner_databases() -> OwnerTestDatabases | None:
    """The plan for this project's ``DATABASES``, once per session."""
    return OwnerTestDatabases.plan()


@pytest.fixture(scope="session", name="django_db_modify_db_settings")
def connect_as_owner(
    django_db_modify_db_settings: None,
    django_db_blocker: DjangoDbBlocker,
    _prodpatterns_owner_databases: OwnerTestDatabases | None,
) -> Iterator[None]:
    """Runs just before pytest-django creates the test databases."""
    if _prodpatterns_owner_databases is not None:
        with django_db_blocker.unblock():
            _prodpatterns_owner_databases.connect_as_owner()
    yield


@pytest.fixture(scope="session", name="django_db_setup")
def grant_after_setup(
    django_db_setup: None,
    django_db_blocker: DjangoDbBlocker,
    _prodpatterns_owner_databases: OwnerTestDatabases | None,
) -> Iterator[None]:
    """Runs once the test databases are migrated; undone just before they are dropped."""
    plan = _prodpatterns_owner_databases
    if plan is not None and plan.borrowing:
        with django_db_blocker.unblock():
            plan.after_setup()
    yield
    if plan is not None:
        with django_db_blocker.unblock():
            plan.before_teardown()
