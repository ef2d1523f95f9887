"""Settings shared by the PostgreSQL and the SQLite test runs (everything but DATABASES)."""

SECRET_KEY = "tests-only-not-secret"
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "rest_framework",
    "rest_framework.authtoken",
    "django_prodpatterns",
    "tests.testapp",
    "tests.composed",
    "tests.lintapp",
    "tests.zoo",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_prodpatterns.middleware.AuditContextMiddleware",
    "django_prodpatterns.middleware.TenantMiddleware",
    "django_prodpatterns.middleware.ConflictMiddleware",
]

ROOT_URLCONF = "tests.urls"

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

# The default; set here only because generating the app's own migration for a swappable
# model needs it. Projects that keep the default need not set it.
PRODPATTERNS_TENANT_MODEL = "prodpatterns.Tenant"

PRODPATTERNS = {
    "TENANT_USER_ATTRIBUTE": "member.tenant",
    "ADMIN_DATABASE": "cross_tenant",
    "SOFT_DELETE_PLAIN_CHILDREN": {"testapp.Attachment": "error"},
}

# testapp.PostDetail.post is a OneToOneField on a soft-delete model on purpose.
SILENCED_SYSTEM_CHECKS = [
    "prodpatterns.W011",
    # The model zoo (tests/zoo) has these shapes on purpose and tests their checks directly:
    # db_constraint=False (W023), managed = False (W003), a natural primary key (W025).
    "prodpatterns.W003",
    "prodpatterns.W023",
    "prodpatterns.W025",
]

DATABASE_ROUTERS = ["tests.routers.MigrateDefaultOnly"]
