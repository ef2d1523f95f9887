"""Settings of the example shop.

Database: ``DATABASE_URL`` when set (and ``OWNER_DATABASE_URL`` for migrations, if the
application role is not the owner). Otherwise an embedded PostgreSQL keeps its data in
``.pgdata/`` at the top of the checkout (git-ignored; ``PRODPATTERNS_PGDATA`` moves it), and
the shop connects as a non-superuser application role, so row-level security is as real
here as in production. Migrations run as the owner role through the ``owner`` alias.
"""

from pathlib import Path

import environ

from django_prodpatterns.devserver import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

SECRET_KEY = env.str("SECRET_KEY", default="example-project-insecure-key")
DEBUG = env.bool("DEBUG", default=True)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

if env.str("DATABASE_URL", default=""):
    DATABASES = {"default": env.db_url("DATABASE_URL")}
    if env.str("OWNER_DATABASE_URL", default=""):
        DATABASES["owner"] = env.db_url("OWNER_DATABASE_URL")
else:
    _pgdata = Path(env.str("PRODPATTERNS_PGDATA", default=str(BASE_DIR / ".pgdata")))
    _local = embedded.prepare(embedded.start_server(_pgdata), database="shop")
    DATABASES = {"default": _local.app, "owner": _local.owner}

PRODPATTERNS_TENANT_MODEL = "shop.Store"
PRODPATTERNS = {
    "OWNER_DATABASE": "owner" if "owner" in DATABASES else None,
    "TENANT_USER_ATTRIBUTE": "staff.store",
}

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_prodpatterns",
    "example_project.shop",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prodpatterns.middleware.AuditContextMiddleware",
    "django_prodpatterns.middleware.TenantMiddleware",
    "django_prodpatterns.middleware.ConflictMiddleware",
]

ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
