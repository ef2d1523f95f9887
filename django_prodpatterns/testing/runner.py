"""``manage.py test`` with test databases made by the owner role.

Set ``TEST_RUNNER = "django_prodpatterns.testing.DiscoverRunner"``: the test databases are
created and migrated by the owner, the application role gets its privileges in them, and
the tests run as each alias's own role (:mod:`.databases`).
"""

from __future__ import annotations

from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.runner import DiscoverRunner as DjangoDiscoverRunner

from .databases import OwnerTestDatabases

# What setup_databases() returns and teardown_databases() takes back (Django's).
OldConfig = list[tuple[BaseDatabaseWrapper, str, bool]]


class DiscoverRunner(DjangoDiscoverRunner):
    """Django's runner, with :class:`~.databases.OwnerTestDatabases` around the set-up."""

    def setup_databases(self, **kwargs: Any) -> OldConfig:
        self._owner_databases = OwnerTestDatabases.plan()
        if self._owner_databases is None:
            return super().setup_databases(**kwargs)
        self._owner_databases.connect_as_owner()
        try:
            config = super().setup_databases(**kwargs)
        except BaseException:
            self._owner_databases.connect_as_themselves()
            raise
        self._owner_databases.after_setup()
        return config

    def teardown_databases(self, old_config: OldConfig, **kwargs: Any) -> None:
        plan = getattr(self, "_owner_databases", None)
        if plan is None:
            return super().teardown_databases(old_config, **kwargs)
        plan.before_teardown()
        try:
            super().teardown_databases(old_config, **kwargs)
        finally:
            plan.connect_as_themselves()
