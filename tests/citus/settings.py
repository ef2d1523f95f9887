"""Settings for the Citus tests (``tests/citus/``): the app in Citus mode on a real cluster.

``CITUS_URL`` is the coordinator's superuser URL of a cluster with registered workers, as
``cluster.sh start`` prints it. The session fixture (``conftest.py``) creates the test
database on every node; the roles are those of the plain suite (owner, application,
cross-tenant), which Citus propagates to the workers.
"""

import os

import environ
from django.core.exceptions import ImproperlyConfigured

from django_prodpatterns.devserver.embedded import local_databases

# What the plain suite's settings share, but its apps (here the Citus test app).
from tests.settings_base import (  # noqa: F401  (settings Django reads)
    DEFAULT_AUTO_FIELD,
    MIDDLEWARE,
    SECRET_KEY,
    TEMPLATES,
    TIME_ZONE,
    USE_TZ,
)

CITUS_URL = os.environ.get("CITUS_URL", "")
if not CITUS_URL:
    raise ImproperlyConfigured(
        "tests/citus needs CITUS_URL: the coordinator's superuser URL of a Citus cluster "
        "with registered workers (see the Citus page of the docs)."
    )

DATABASE_NAME = "test_prodpatterns_citus"
CLUSTER = environ.Env.db_url_config(CITUS_URL)
_local = local_databases(CLUSTER, DATABASE_NAME)

DATABASES = {
    "default": _local.owner,
    "app": _local.app,
    "cross_tenant": _local.cross_tenant,
    "setup": _local.admin,
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_prodpatterns",
    "tests.citus.tenants",
    "tests.citus.switched",
]

PRODPATTERNS = {
    "CITUS": True,
    "TENANT_USER_ATTRIBUTE": "member.tenant",
    "ADMIN_DATABASE": "cross_tenant",
}

DATABASE_ROUTERS = ["tests.routers.MigrateDefaultOnly"]
