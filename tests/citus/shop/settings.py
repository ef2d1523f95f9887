"""Settings for the example shop on the Citus cluster (``tests/citus/shop/``).

The example project's shop app (``example_project.shop``: stores as the tenant model,
staff, customers, products, orders with items), its admin and middleware, in Citus mode,
with migrations ``makemigrations`` wrote in that mode (``tests/citus/shop/migrations``: a
new project on the cluster; an existing one switching is ``tests/citus/switched``). As in
the example, the admin runs as the application role (``default``) and migrations as the
owner (``owner``). ``tests/citus/test_shop_on_citus.py`` runs these tests in a process of
their own, since the tenant model differs from the other Citus tests'.
"""

import environ

from django_prodpatterns.devserver.embedded import local_databases
from tests.citus.settings import CITUS_URL  # raises when it is not set
from tests.settings_base import DEFAULT_AUTO_FIELD, SECRET_KEY, TIME_ZONE, USE_TZ  # noqa: F401

DATABASE_NAME = "test_prodpatterns_citus_shop"
CLUSTER = environ.Env.db_url_config(CITUS_URL)
_local = local_databases(CLUSTER, DATABASE_NAME)
DATABASES = {"default": _local.app, "owner": _local.owner}

PRODPATTERNS_TENANT_MODEL = "shop.Store"
PRODPATTERNS = {
    "CITUS": True,
    "OWNER_DATABASE": "owner",
    "TENANT_USER_ATTRIBUTE": "staff.store",
}
MIGRATION_MODULES = {"shop": "tests.citus.shop.migrations"}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_prodpatterns",
    "example_project.shop",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_prodpatterns.middleware.AuditContextMiddleware",
    "django_prodpatterns.middleware.TenantMiddleware",
    "django_prodpatterns.middleware.ConflictMiddleware",
]
ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast logins
