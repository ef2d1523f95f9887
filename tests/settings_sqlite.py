"""Settings for running the PostgreSQL-independent test modules on SQLite.

Soft delete, timestamps and the other ORM-level patterns must work on any database Django
supports; ``tests/test_sqlite.py`` runs those modules with these settings.
"""

from tests.settings_base import *  # noqa: F403

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}

# W001 (not PostgreSQL) is the point of this run.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "prodpatterns.W001"]  # noqa: F405

PRODPATTERNS = {**PRODPATTERNS, "ADMIN_DATABASE": None}  # noqa: F405
