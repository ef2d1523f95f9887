"""The test settings with a project-owned tenant model keyed by a natural text key (a slug).

Only ``tests.chartenants`` is installed besides the app: the main test apps' migrations
point at the default tenant model. ``tests/test_swapped_tenants.py`` runs
``tests/swapped_tenant_checks.py`` with these settings.
"""

from tests.settings import *  # noqa: F403
from tests.settings import INSTALLED_APPS

# Django's and this app's, none of the other test apps (and none added to them later).
INSTALLED_APPS = [app for app in INSTALLED_APPS if not app.startswith("tests.")] + [
    "tests.chartenants"
]
PRODPATTERNS_TENANT_MODEL = "chartenants.Workspace"
ROOT_URLCONF = "tests.urls_uuid"  # no URLs; imports nothing from the other test apps

# Its own test database: with DATABASE_URL the parent run's test database is in use.
DATABASES = {
    alias: {**entry, "TEST": {**entry.get("TEST", {}), "NAME": "test_prodpatterns_chartenant"}}
    if alias == "default"
    else entry
    for alias, entry in DATABASES.items()  # noqa: F405
}

# No model of this run links users to its tenant model, so "member.tenant" (from
# tests/settings.py) leads nowhere (prodpatterns.E023); nothing here resolves a tenant from
# a user.
SILENCED_SYSTEM_CHECKS = [*SILENCED_SYSTEM_CHECKS, "prodpatterns.E023"]  # noqa: F405
