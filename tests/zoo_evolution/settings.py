"""Settings of the child processes of tests/test_zoo_migrations.py.

Everything but the databases and the apps comes from ``tests.settings_base``. The parent
test run passes, in the environment:

- ``PRODPATTERNS_CHILD_SERVER``: its server's superuser entry (JSON), the embedded server
  it started or the one ``DATABASE_URL`` names. The child neither starts a server nor
  creates roles (the parent's settings made them), so children never race on roles.
- ``PRODPATTERNS_CHILD_DATABASE``: a database of the child's own on that server, created
  empty by the parent and owned by the owner role.
- ``PRODPATTERNS_CHILD_APPS``: the apps to install after Django's and this app's.
- ``PRODPATTERNS_CHILD_MIGRATION_MODULES`` (optional, JSON): ``MIGRATION_MODULES``.
- ``PRODPATTERNS_CHILD_TENANT_SETTING``: empty when the parent runs without
  ``PRODPATTERNS_TENANT_MODEL`` (``tests/settings_bare.py``); the child then leaves it unset
  too, since it decides how migrations name the tenant model.
"""

import json
import os

from django_prodpatterns.devserver import embedded
from tests.settings_base import *  # noqa: F403

_server = json.loads(os.environ["PRODPATTERNS_CHILD_SERVER"])
_local = embedded.local_databases(_server, os.environ["PRODPATTERNS_CHILD_DATABASE"])

DATABASES = {
    "default": _local.owner,  # owns the tables, runs the migrations
    "app": _local.app,  # the application role: row level security applies
    "cross_tenant": _local.cross_tenant,
    "setup": _local.admin,  # the superuser: sees every row
}

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django_prodpatterns",
    *os.environ["PRODPATTERNS_CHILD_APPS"].split(","),
]
MIGRATION_MODULES = json.loads(os.environ.get("PRODPATTERNS_CHILD_MIGRATION_MODULES", "{}"))

PRODPATTERNS = {"ADMIN_DATABASE": "cross_tenant"}
MIDDLEWARE = []
ROOT_URLCONF = "tests.zoo_evolution.urls"

if not os.environ.get("PRODPATTERNS_CHILD_TENANT_SETTING", "1"):
    del PRODPATTERNS_TENANT_MODEL  # noqa: F821
