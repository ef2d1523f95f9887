"""The test settings with a project-owned, UUID-keyed tenant model.

Only ``tests.uuidtenants`` is installed besides the app: the main test apps' migrations
point at the default tenant model. ``tests/test_swapped_tenants.py`` runs
``tests/uuidtenants/leaks.py`` with these settings.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

INSTALLED_APPS = [
    app
    for app in INSTALLED_APPS
    if app not in ("tests.testapp", "tests.composed", "tests.lintapp", "tests.zoo")
] + ["tests.uuidtenants"]
PRODPATTERNS_TENANT_MODEL = "uuidtenants.Organization"
ROOT_URLCONF = "tests.urls_uuid"

# Its own test database: with DATABASE_URL the parent run's test database is in use.
DATABASES = {
    alias: {**entry, "TEST": {**entry.get("TEST", {}), "NAME": "test_prodpatterns_uuid"}}
    if alias == "default"
    else entry
    for alias, entry in DATABASES.items()  # noqa: F405
}

# No model of this run links users to its tenant model, so "member.tenant" (from
# tests/settings.py) leads nowhere (prodpatterns.E023); nothing here resolves a tenant from
# a user.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "prodpatterns.E023"]  # noqa: F405
